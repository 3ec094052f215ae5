package migration

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration"
)

// One Migration between the two API servers with every selection field: a listed namespace, one
// chosen by label (and one whose label does not match), a listed namespace that no longer exists,
// an object left out by excludeSelectors, and an object another controls, copied because of
// ignoreOwnerReferencesCheck.
func TestMigrationSelectionExcludesChoosesNamespacesByLabelAndSkipsDeletedOnes(t *testing.T) {
	ctx := context.Background()
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "operator-cr", Namespace: "pick-listed"}}
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pick-listed"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pick-blue", Labels: map[string]string{"team": "blue"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pick-green", Labels: map[string]string{"team": "green"}}},
		owner,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep", Namespace: "pick-listed"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "scratch", Namespace: "pick-listed", Labels: map[string]string{"backup": "skip"}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "local-only", Namespace: "pick-listed",
			Annotations: map[string]string{volsyncv1alpha1.SkipResourceAnnotation: "true"}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "blue", Namespace: "pick-blue"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "green", Namespace: "pick-green"}},
	)
	createOn(t, a, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "made-by-operator", Namespace: "pick-listed",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, Controller: ptr.To(true)}}}})

	m := newMigration("pick", "pick-listed", "pick-gone")
	m.Spec.NamespaceSelectors = map[string]string{"team": "blue"}
	m.Spec.ExcludeSelectors = map[string]string{"backup": "skip"}
	m.Spec.IgnoreOwnerReferencesCheck = ptr.To(true)
	got := migrate(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusSuccessful)
	if got.Spec.SkipDeletedNamespaces == nil || !*got.Spec.SkipDeletedNamespaces {
		t.Errorf("skipDeletedNamespaces = %v, want the default true", got.Spec.SkipDeletedNamespaces)
	}
	want := []string{
		"Namespace /pick-listed", "Namespace /pick-blue",
		"ConfigMap pick-listed/keep", "ConfigMap pick-listed/made-by-operator", "ConfigMap pick-listed/operator-cr",
		"ConfigMap pick-blue/blue",
	}
	keys := resourceKeys(got)
	if !sameItems(keys, want) {
		t.Errorf("status.resources = %v, want %v", keys, want)
	}
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, m.Name, corev1.EventTypeWarning, migration.ReasonNamespaceSkipped,
		`namespace(s) "pick-gone" do not exist on the source cluster and were skipped`))
	for _, key := range []client.ObjectKey{{Namespace: "pick-listed", Name: "keep"}, {Namespace: "pick-listed", Name: "made-by-operator"}, {Namespace: "pick-blue", Name: "blue"}} {
		if err := b.Get(ctx, key, &corev1.ConfigMap{}); err != nil {
			t.Errorf("ConfigMap %s did not reach B: %v", key, err)
		}
	}
	if err := b.Get(ctx, client.ObjectKey{Namespace: "pick-listed", Name: "scratch"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("the ConfigMap excludeSelectors leaves out reached B (err %v)", err)
	}
	if err := b.Get(ctx, client.ObjectKey{Namespace: "pick-listed", Name: "local-only"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("the ConfigMap annotated %s reached B (err %v)", volsyncv1alpha1.SkipResourceAnnotation, err)
	}
	if err := b.Get(ctx, client.ObjectKey{Name: "pick-green"}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Errorf("the namespace whose label does not match reached B (err %v)", err)
	}
	if err := b.Get(ctx, client.ObjectKey{Name: "pick-gone"}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Errorf("the deleted namespace was made on B (err %v)", err)
	}

	// Without ignoreOwnerReferencesCheck the controlled object stays behind.
	again := newMigration("pick-owned", "pick-listed")
	got = migrate(t, again)
	wantStatus(t, got, volsyncv1alpha1.RunStatusSuccessful)
	if slices.Contains(resourceKeys(got), "ConfigMap pick-listed/made-by-operator") {
		t.Errorf("status.resources = %v: a controlled object was migrated without ignoreOwnerReferencesCheck", resourceKeys(got))
	}
}

// sameItems says whether a and b hold the same strings, in any order.
func sameItems(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// A Migration that chooses its namespaces only by label migrates those that have any one of the
// labels, and one whose labels match no namespace fails at once, saying so, with nothing written.
func TestMigrationOfNamespacesChosenOnlyByLabel(t *testing.T) {
	ctx := context.Background()
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "label-only", Labels: map[string]string{"tier": "gold"}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "gold", Namespace: "label-only"}},
	)
	m := newMigration("label-only")
	// The selectors are OR'ed, as in Stork: one matching label is enough.
	m.Spec.NamespaceSelectors = map[string]string{"tier": "gold", "region": "nowhere"}
	got := migrate(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusSuccessful)
	if keys := resourceKeys(got); !sameItems(keys, []string{"Namespace /label-only", "ConfigMap label-only/gold"}) {
		t.Errorf("status.resources = %v", keys)
	}
	if err := b.Get(ctx, client.ObjectKey{Namespace: "label-only", Name: "gold"}, &corev1.ConfigMap{}); err != nil {
		t.Errorf("the ConfigMap did not reach B: %v", err)
	}

	none := newMigration("label-none")
	none.Spec.NamespaceSelectors = map[string]string{"tier": "no-such-tier"}
	got = migrate(t, none)
	wantStatus(t, got, volsyncv1alpha1.RunStatusFailed)
	c := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionCompleted)
	if c == nil || c.Reason != migration.ReasonNoNamespaces || len(got.Status.Resources) != 0 {
		t.Errorf("Completed = %+v, resources %v; want NoNamespaces and nothing written", c, got.Status.Resources)
	}
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, none.Name, corev1.EventTypeWarning, string(volsyncv1alpha1.RunStatusFailed),
		"spec.namespaceSelectors chooses none"))
}
