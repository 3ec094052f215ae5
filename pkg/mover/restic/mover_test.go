package restic

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestForgetOptionsFromTheRetainPolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		retain *volsyncv1alpha1.ResticRetainPolicy
		want   string
	}{
		{"no policy keeps the last snapshot", nil, "--keep-last 1"},
		{"an empty policy keeps the last snapshot", &volsyncv1alpha1.ResticRetainPolicy{}, "--keep-last 1"},
		{"each field becomes its --keep flag, in restic's order", &volsyncv1alpha1.ResticRetainPolicy{
			Hourly: ptr.To[int32](3), Daily: ptr.To[int32](2), Monthly: ptr.To[int32](1), Within: ptr.To("3d"), Last: ptr.To(intstr.FromInt32(5)),
		}, "--keep-hourly 3 --keep-daily 2 --keep-monthly 1 --keep-within 3d --keep-last 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ForgetOptions(tc.retain); got != tc.want {
				t.Errorf("ForgetOptions = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPruneIsDueAfterItsIntervalSinceTheLastPrune(t *testing.T) {
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	pruned := metav1.NewTime(created.AddDate(0, 0, 10))
	for _, tc := range []struct {
		name     string
		interval *int32
		last     *metav1.Time
		now      time.Time
		want     bool
	}{
		{"never pruned counts from creation: not before the default 7 days", nil, nil, created.AddDate(0, 0, 6), false},
		{"never pruned, 7 days after creation", nil, nil, created.AddDate(0, 0, 7), true},
		{"one day after a prune with a 1-day interval", ptr.To[int32](1), &pruned, pruned.AddDate(0, 0, 1), true},
		{"just before the interval passes", ptr.To[int32](2), &pruned, pruned.AddDate(0, 0, 2).Add(-time.Second), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PruneDue(tc.interval, tc.last, created, tc.now); got != tc.want {
				t.Errorf("PruneDue = %v, want %v", got, tc.want)
			}
		})
	}
}
