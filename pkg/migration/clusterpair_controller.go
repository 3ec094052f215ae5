package migration

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/conditions"
	"github.com/volsync/volsync/pkg/migration/remote"
)

const (
	// DefaultRecheckInterval is how often a Ready pair is checked again.
	DefaultRecheckInterval = 5 * time.Minute
	// DefaultFailedRecheckInterval is the first re-check of a pair that is not Ready. Later ones
	// wait as long as the pair has been failing, up to the recheck interval: 30s, 30s, 1m, 2m, 4m,
	// 5m. A broken pair is noticed fixed quickly and a long outage costs one check in five minutes.
	// Fixing the Secret re-checks at once, whatever the wait.
	DefaultFailedRecheckInterval = 30 * time.Second
	// secretPairIndex indexes ClusterPairs by the Secret they read, to find them when it changes.
	secretPairIndex = "spec.kubeconfigSecretRef.name"
)

// ClusterPairReconciler keeps each ClusterPair's Ready condition true to its destination.
type ClusterPairReconciler struct {
	// Client reads and writes ClusterPairs (the manager's cached client).
	Client client.Client
	// APIReader reads the kubeconfig Secrets straight from the API server, so volsyncd does not
	// cache every Secret of the cluster. Defaults to the manager's APIReader.
	APIReader client.Reader
	// Recorder raises an Event when a pair becomes Ready or stops being Ready.
	Recorder events.EventRecorder
	// Clock is read for every time written or waited on.
	Clock clock.PassiveClock
	// RecheckInterval defaults to DefaultRecheckInterval.
	RecheckInterval time.Duration
	// FailedRecheckInterval defaults to DefaultFailedRecheckInterval.
	FailedRecheckInterval time.Duration
}

// +kubebuilder:rbac:groups=volsync.backube,resources=clusterpairs,verbs=get;list;watch
// +kubebuilder:rbac:groups=volsync.backube,resources=clusterpairs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile checks one pair against its destination and writes what it found.
//
// The status is written when the result changes. A check that finds the same as the last one
// refreshes lastCheckTime only when it is older than half the recheck interval: the periodic
// checks keep it current, while a burst of checks woken by Secret or spec events costs no writes.
func (r *ClusterPairReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	var pair volsyncv1alpha1.ClusterPair
	if err := r.Client.Get(ctx, req.NamespacedName, &pair); err != nil {
		if apierrors.IsNotFound(err) {
			forgetPairReady(req.Name, req.Namespace)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if pair.DeletionTimestamp != nil {
		forgetPairReady(pair.Name, pair.Namespace)
		return ctrl.Result{}, nil
	}
	// What the last check found, until this one says otherwise (a restarted volsyncd reports its
	// pairs before it reaches them).
	recordPairReady(&pair)

	dest, checkErr := remote.Connect(ctx, r.APIReader, &pair, pairPermissions())
	var remoteErr *remote.Error
	if checkErr != nil && !errors.As(checkErr, &remoteErr) {
		// Not the destination's fault (reading the Secret from this cluster failed): try again
		// with the controller's backoff, and leave the status as the last real check left it.
		return ctrl.Result{}, checkErr
	}
	now := r.Clock.Now().Truncate(time.Second)

	status := pair.Status.DeepCopy()
	status.ObservedGeneration = pair.Generation
	status.ServerVersion = ""
	if dest != nil {
		status.ServerVersion = dest.ServerVersion
	}
	ready := metav1.Condition{
		Type:               volsyncv1alpha1.ConditionReady,
		ObservedGeneration: pair.Generation,
	}
	if checkErr == nil {
		ready.Status = metav1.ConditionTrue
		ready.Reason = volsyncv1alpha1.ReasonConnected
		ready.Message = fmt.Sprintf("destination %s (Kubernetes %s) answered and allows everything a migration does there",
			dest.Config.Host, dest.ServerVersion)
	} else {
		ready.Status = metav1.ConditionFalse
		ready.Reason = remoteErr.Reason
		ready.Message = checkErr.Error()
	}
	conditions.Set(&status.Conditions, ready, now)

	before, after := pair.Status.DeepCopy(), status.DeepCopy()
	before.LastCheckTime, after.LastCheckTime = nil, nil
	changed := !equality.Semantic.DeepEqual(before, after)
	if changed || status.LastCheckTime == nil || now.Sub(status.LastCheckTime.Time) >= r.RecheckInterval/2 {
		t := metav1.NewTime(now)
		status.LastCheckTime = &t
		wasReady := meta.FindStatusCondition(pair.Status.Conditions, volsyncv1alpha1.ConditionReady)
		pair.Status = *status
		if err := r.Client.Status().Update(ctx, &pair); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: time.Second}, nil
			}
			return ctrl.Result{}, err
		}
		nowReady := meta.FindStatusCondition(pair.Status.Conditions, volsyncv1alpha1.ConditionReady)
		if wasReady == nil || wasReady.Status != nowReady.Status || wasReady.Reason != nowReady.Reason || wasReady.Message != nowReady.Message {
			r.recordReadiness(&pair, nowReady)
			logger.Info("cluster pair checked", "ready", nowReady.Status, "reason", nowReady.Reason, "message", nowReady.Message)
		}
	}
	recordPairReady(&pair)
	return ctrl.Result{RequeueAfter: r.nextCheck(&pair, now)}, nil
}

// nextCheck is when to check the pair again: the recheck interval when it is Ready, else as long
// as it has been failing, between the failed recheck interval and the recheck interval.
func (r *ClusterPairReconciler) nextCheck(pair *volsyncv1alpha1.ClusterPair, now time.Time) time.Duration {
	c := meta.FindStatusCondition(pair.Status.Conditions, volsyncv1alpha1.ConditionReady)
	if c == nil || c.Status == metav1.ConditionTrue {
		return r.RecheckInterval
	}
	failing := now.Sub(c.LastTransitionTime.Time)
	return min(max(failing, r.FailedRecheckInterval), r.RecheckInterval)
}

func (r *ClusterPairReconciler) recordReadiness(pair *volsyncv1alpha1.ClusterPair, c *metav1.Condition) {
	if r.Recorder == nil {
		return
	}
	if c.Status == metav1.ConditionTrue {
		r.Recorder.Eventf(pair, nil, corev1.EventTypeNormal, c.Reason, "Check", "%s", c.Message)
		return
	}
	r.Recorder.Eventf(pair, nil, corev1.EventTypeWarning, c.Reason, "Check", "cluster pair %q is not ready: %s", pair.Name, c.Message)
}

// pairsOfSecret maps a Secret to the pairs that read it, so fixing a Secret re-checks at once.
func (r *ClusterPairReconciler) pairsOfSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	var pairs volsyncv1alpha1.ClusterPairList
	if err := r.Client.List(ctx, &pairs, client.InNamespace(secret.GetNamespace()),
		client.MatchingFields{secretPairIndex: secret.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing the cluster pairs of a Secret", "secret", client.ObjectKeyFromObject(secret))
		return nil
	}
	out := make([]reconcile.Request, 0, len(pairs.Items))
	for _, p := range pairs.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
	}
	return out
}

// SetupWithManager registers the controller. Status-only updates of a pair do not trigger a
// check; Secrets are watched by their metadata only, which is all it takes to know one changed.
func (r *ClusterPairReconciler) SetupWithManager(mgr ctrl.Manager) error {
	registerMetrics()
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.RecheckInterval <= 0 {
		r.RecheckInterval = DefaultRecheckInterval
	}
	if r.FailedRecheckInterval <= 0 {
		r.FailedRecheckInterval = DefaultFailedRecheckInterval
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &volsyncv1alpha1.ClusterPair{}, secretPairIndex,
		func(o client.Object) []string {
			return []string{o.(*volsyncv1alpha1.ClusterPair).Spec.KubeconfigSecretRef.Name}
		}); err != nil {
		return fmt.Errorf("indexing cluster pairs by Secret: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&volsyncv1alpha1.ClusterPair{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.pairsOfSecret)).
		Named("clusterpair").
		Complete(r)
}
