package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/schedulepolicy"
)

// Stork's default policies are created with Stork's values, are valid, and are created only when
// missing: a default an admin edited keeps the edit.
func TestDefaultSchedulePoliciesAreCreatedOnceAndKeptAsEdited(t *testing.T) {
	ctx := context.Background()
	created, err := schedulepolicy.EnsureDefaults(ctx, k8s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range schedulepolicy.Defaults() {
			_ = k8s.Delete(ctx, &p)
		}
	})
	if len(created) != 5 {
		t.Fatalf("created %v, want the five defaults", created)
	}
	for _, p := range schedulepolicy.Defaults() {
		eventually(t, 20*time.Second, func() error {
			var got volsyncv1alpha1.SchedulePolicy
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(&p), &got); err != nil {
				return err
			}
			if c := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionValid); c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("%s: Valid is %+v", p.Name, c)
			}
			return nil
		})
	}
	var mig volsyncv1alpha1.SchedulePolicy
	if err := k8s.Get(ctx, client.ObjectKey{Name: schedulepolicy.DefaultMigrationPolicy}, &mig); err != nil {
		t.Fatal(err)
	}
	if mig.Policy.Interval == nil || mig.Policy.Interval.IntervalMinutes != 30 {
		t.Fatalf("%s is %+v, want every 30 minutes", mig.Name, mig.Policy)
	}
	mig.Policy.Interval.IntervalMinutes = 5
	if err := k8s.Update(ctx, &mig); err != nil {
		t.Fatal(err)
	}
	if created, err := schedulepolicy.EnsureDefaults(ctx, k8s); err != nil || len(created) != 0 {
		t.Fatalf("a second start created %v (%v)", created, err)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(&mig), &mig); err != nil || mig.Policy.Interval.IntervalMinutes != 5 {
		t.Fatalf("the admin's edit was lost: %+v (%v)", mig.Policy.Interval, err)
	}
}
