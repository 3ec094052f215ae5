package schedulepolicy

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/schedule"
)

// Found is the policy an owner uses: a NamespacedSchedulePolicy of its own namespace, or else the
// cluster's SchedulePolicy of that name.
type Found struct {
	// Namespace is the NamespacedSchedulePolicy's namespace; empty for a SchedulePolicy.
	Namespace string
	// Name of the policy.
	Name string
	// Policy is its policy section.
	Policy volsyncv1alpha1.SchedulePolicyItem
	// Generation, Created and Status are the policy object's.
	Generation int64
	Created    time.Time
	Status     volsyncv1alpha1.SchedulePolicyStatus
}

// Lookup finds the policy an owner in namespace names: the NamespacedSchedulePolicy of that name in
// the namespace first, then the SchedulePolicy. When there is neither, the error is NotFound
// (apierrors.IsNotFound) and says where it looked.
func Lookup(ctx context.Context, c client.Reader, namespace, name string) (*Found, error) {
	if namespace != "" {
		var nsp volsyncv1alpha1.NamespacedSchedulePolicy
		err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &nsp)
		switch {
		case err == nil:
			return &Found{Namespace: namespace, Name: name, Policy: nsp.Policy, Generation: nsp.Generation,
				Created: nsp.CreationTimestamp.Time, Status: nsp.Status}, nil
		case !apierrors.IsNotFound(err) && !noKind(err):
			return nil, fmt.Errorf("reading namespaced schedule policy %s/%s: %w", namespace, name, err)
		}
	}
	var sp volsyncv1alpha1.SchedulePolicy
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &sp); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(volsyncv1alpha1.GroupVersion.WithResource("schedulepolicies").GroupResource(),
				fmt.Sprintf("%s (neither a NamespacedSchedulePolicy in %s nor a SchedulePolicy)", name, namespace))
		}
		return nil, fmt.Errorf("reading schedule policy %q: %w", name, err)
	}
	return &Found{Name: name, Policy: sp.Policy, Generation: sp.Generation, Created: sp.CreationTimestamp.Time, Status: sp.Status}, nil
}

// noKind says the API server does not serve NamespacedSchedulePolicy (its CRD not installed yet):
// the cluster policy is then the only one there can be.
func noKind(err error) bool {
	return apierrors.IsMethodNotSupported(err) || meta.IsNoMatchError(err)
}

// Describe names the policy in messages: `schedule policy "p"` or `namespaced schedule policy "ns/p"`.
func (f *Found) Describe() string {
	if f.Namespace != "" {
		return fmt.Sprintf("namespaced schedule policy %q", f.Namespace+"/"+f.Name)
	}
	return fmt.Sprintf("schedule policy %q", f.Name)
}

// Compile compiles the policy, with Since set to when it took its present form (ChangedAt).
func (f *Found) Compile(now time.Time) (*schedule.Policy, error) {
	p, err := schedule.Compile(f.Name, f.Policy)
	if err != nil {
		return nil, err
	}
	p.Since = ChangedAt(f.Generation, f.Created, f.Status, now)
	return p, nil
}

// ChangedAt is when a policy took its present form, as its stored state tells it, so that it
// reads the same after a restart: its creation for a policy never edited (generation 1);
// status.policyChangedTime when the status describes the present generation; now when it does
// not yet (the edit is that recent: the policy controller has not seen it); else zero, meaning
// unknown, and every unhandled trigger counts.
func ChangedAt(generation int64, created time.Time, st volsyncv1alpha1.SchedulePolicyStatus, now time.Time) time.Time {
	switch {
	case generation <= 1:
		return created
	case st.ObservedGeneration != generation:
		return now
	case st.PolicyChangedTime != nil:
		return st.PolicyChangedTime.Time
	}
	return time.Time{}
}
