package migration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/conditions"
	"github.com/volsync/volsync/pkg/migration/copier"
	"github.com/volsync/volsync/pkg/migration/remote"
	"github.com/volsync/volsync/pkg/rule"
)

const (
	// DefaultParallelism is how many objects a run applies on the destination at once.
	DefaultParallelism = 8
	// DefaultVolumePollInterval is the default of MigrationReconciler.VolumePollInterval.
	DefaultVolumePollInterval = 10 * time.Second
	// migrationPairIndex indexes Migrations by the ClusterPair they use, to wake those waiting on
	// a pair when it changes.
	migrationPairIndex = "spec.clusterPair"
	// eventAction is the action of every Event about a Migration.
	eventAction = "Migrate"
)

// MigrationReconciler runs each Migration once through its stages.
type MigrationReconciler struct {
	// Client reads and writes Migrations and reads ClusterPairs (the manager's cached client).
	Client client.Client
	// APIReader reads the source objects, and the kubeconfig Secrets, straight from the API
	// server: a run reads each object once, and caching every kind it copies across the cluster
	// would cost volsyncd far more memory than the reads cost the API server. Defaults to the
	// manager's APIReader.
	APIReader client.Reader
	// Recorder raises Events on the Migration.
	Recorder events.EventRecorder
	// Clock is read for every time written or waited on.
	Clock clock.PassiveClock
	// Retry bounds the attempts to reach the destination. Zero fields take DefaultRetryPolicy's.
	Retry RetryPolicy
	// Parallelism defaults to DefaultParallelism.
	Parallelism int
	// VolumePollInterval is how often a run whose volumes are moving looks at its
	// ReplicationSources and ReplicationDestinations (on two clusters, so not watched). Defaults
	// to DefaultVolumePollInterval.
	VolumePollInterval time.Duration
	// NewDestinationClient makes the client that writes to the destination. Defaults to a plain
	// controller-runtime client; tests wrap it.
	NewDestinationClient func(*rest.Config) (client.Client, error)
	// AdminNamespace is the namespace whose Migrations may migrate any namespace. A Migration
	// anywhere else may migrate only its own namespace: volsyncd reads every namespace, so
	// without this rule whoever may create a Migration and a ClusterPair in one namespace could
	// copy another namespace's Secrets to a cluster of their choosing. "" allows no exceptions.
	AdminNamespace string
	// SourceClusterID identifies this cluster on the objects it copies (volsyncv1alpha1.MigratedFromLabel).
	// Defaults to the UID of the kube-system namespace, which is stable for a cluster's life and
	// differs between clusters.
	SourceClusterID string
	// Exec runs the actions of spec.preExecRule and spec.postExecRule in the source's pods.
	// Defaults to the pods/exec subresource of the manager's API server.
	Exec rule.Executor

	clusterIDMu sync.Mutex
}

// +kubebuilder:rbac:groups=volsync.backube,resources=migrations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=volsync.backube,resources=migrations/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=get;list
// +kubebuilder:rbac:groups=volsync.backube,resources=migrations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=volsync.backube,resources=clusterpairs,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces;resourcequotas;limitranges;serviceaccounts;secrets;configmaps;persistentvolumeclaims;services;endpoints,verbs=get;list
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list
// +kubebuilder:rbac:groups=*,resources=*,verbs=get;list
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create;patch;delete
// +kubebuilder:rbac:groups=volsync.backube,resources=replicationsources,verbs=get;list;create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings;clusterroles;clusterrolebindings,verbs=get;list
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies;ingresses,verbs=get;list
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets;replicasets,verbs=get;list
// +kubebuilder:rbac:groups=batch,resources=cronjobs;jobs,verbs=get;list
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list
// +kubebuilder:rbac:groups=volsync.backube,resources=rules,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list
// +kubebuilder:rbac:groups="",resources=pods/exec,verbs=create
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile moves one Migration on as far as it can go. A finished Migration is never touched.
func (r *MigrationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var m volsyncv1alpha1.Migration
	if err := r.Client.Get(ctx, req.NamespacedName, &m); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	run := &migrationRun{r: r, m: &m, stored: *m.Status.DeepCopy(), schedule: scheduleOf(&m)}
	run.mapping = namespaceMapping(&m)
	var (
		res ctrl.Result
		err error
	)
	switch {
	case m.Status.Status.Finished() || m.DeletionTimestamp != nil:
		// Deleted, or finished: nothing more is migrated, and what the volume path made goes.
		if run.selector, err = copier.Selector(m.Spec.Selectors); err != nil {
			run.selector = labels.Everything()
		}
		run.selection = selectionOf(&m)
		if run.labelled, err = run.labelledNamespaces(ctx); err != nil {
			break
		}
		res, err = run.release(ctx)
	default:
		if err = r.holdFinalizer(ctx, &m); err != nil {
			break
		}
		res, err = run.proceed(ctx)
	}
	if apierrors.IsConflict(err) {
		// Someone else wrote the Migration meanwhile; the next pass starts from what they wrote.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	return res, err
}

// migrationRun is one pass of the reconciler over one Migration.
type migrationRun struct {
	r        *MigrationReconciler
	m        *volsyncv1alpha1.Migration
	stored   volsyncv1alpha1.MigrationStatus // as last written, to write only changes
	schedule string

	kinds []copier.Kind
	// definitions are the source's CustomResourceDefinitions of the custom kinds, by name.
	definitions map[string]*unstructured.Unstructured
	// boundRBAC are the source's ClusterRoleBindings bound to the migrated namespaces'
	// ServiceAccounts, read once per pass.
	boundRBAC []*unstructured.Unstructured
	selector  labels.Selector
	selection copier.Selection
	// labelled are the namespaces spec.namespaceSelectors chose on the source, this pass.
	labelled  []string
	mapping   copier.NamespaceMapping
	opts      copier.Options
	dest      *remote.Destination
	dst       client.Client
	clusterID string
	pair      *volsyncv1alpha1.ClusterPair
}

func (run *migrationRun) now() time.Time {
	return run.r.Clock.Now().Truncate(time.Second)
}

func (run *migrationRun) proceed(ctx context.Context) (ctrl.Result, error) {
	m := run.m
	now := run.now()
	unknown, err := run.selectKinds(ctx, m.Status.Status == "")
	if err != nil {
		return run.stageFailed(ctx, err)
	}
	if m.Status.Status == "" {
		t := metav1.NewTime(now)
		m.Status.Status = volsyncv1alpha1.RunStatusPending
		m.Status.Stage = volsyncv1alpha1.MigrationStageVolumes
		if m.Spec.PreExecRule != "" {
			m.Status.Stage = volsyncv1alpha1.MigrationStagePreExecRule
		}
		m.Status.StartTimestamp = &t
		run.setCompleted(metav1.ConditionFalse, string(volsyncv1alpha1.RunStatusPending), "reaching the destination")
		if len(unknown) > 0 {
			run.event(corev1.EventTypeWarning, ReasonUnknownResourceType,
				"spec.excludeResourceTypes names %s, which no migrated kind matches; known kinds: %s",
				quoteAll(unknown), kindNames(append(copier.Kinds(), run.customOnly()...)))
		}
		if unknown := copier.UnknownOptional(m.Spec.IncludeOptionalResourceTypes); len(unknown) > 0 {
			run.event(corev1.EventTypeWarning, ReasonUnknownResourceType,
				"spec.includeOptionalResourceTypes names %s, which is no optional kind; the optional kinds are %s",
				quoteAll(unknown), kindNames(optionalKinds()))
		}
	}

	if err := copier.CheckExcludeSelectors(m.Spec.ExcludeSelectors); err != nil {
		return run.finish(ctx, volsyncv1alpha1.RunStatusFailed, ReasonInvalidSpec, err.Error())
	}
	run.selection = selectionOf(m)
	if err := copier.CheckNamespaceSelectors(m.Spec.NamespaceSelectors); err != nil {
		return run.finish(ctx, volsyncv1alpha1.RunStatusFailed, ReasonInvalidSpec, err.Error())
	}
	if run.labelled, err = run.labelledNamespaces(ctx); err != nil {
		return run.stageFailed(ctx, err)
	}
	if len(run.namespaces()) == 0 {
		return run.finish(ctx, volsyncv1alpha1.RunStatusFailed, ReasonNoNamespaces,
			"nothing to migrate: spec.namespaces lists no namespace and spec.namespaceSelectors chooses none on the source cluster")
	}
	if err := run.r.checkNamespaces(m, run.namespaces()); err != nil {
		return run.finish(ctx, volsyncv1alpha1.RunStatusFailed, ReasonInvalidSpec, err.Error())
	}
	if err := copier.CheckNamespaceMapping(run.namespaces(), run.mapping); err != nil {
		// The API refuses such a mapping; a Migration stored before its rules existed is not.
		return run.finish(ctx, volsyncv1alpha1.RunStatusFailed, ReasonInvalidSpec, "spec.namespaceMapping: "+err.Error())
	}
	sel, err := copier.Selector(m.Spec.Selectors)
	if err != nil {
		return run.finish(ctx, volsyncv1alpha1.RunStatusFailed, ReasonInvalidSpec, err.Error())
	}
	run.selector = sel
	if m.Status.Status == volsyncv1alpha1.RunStatusPending {
		// Before anything is copied: a hook that cannot run fails the run now, not halfway.
		f, err := run.checkRules(ctx)
		if err != nil {
			return run.stageFailed(ctx, err)
		}
		if f != nil {
			return run.finishAs(ctx, volsyncv1alpha1.RunStatusFailed, f.reason, f.reason, f.msg)
		}
	}

	if err := run.connect(ctx); err != nil {
		return run.destinationFailed(ctx, err)
	}
	// Every pass, before it writes: an activated destination is never written again.
	activated, err := run.activatedNamespaces(ctx)
	if err != nil {
		return run.stageFailed(ctx, err)
	}
	if len(activated) > 0 {
		started := m.Status.Status != volsyncv1alpha1.RunStatusPending
		return run.finishAs(ctx, volsyncv1alpha1.RunStatusFailed, volsyncv1alpha1.ReasonApplicationActivated,
			volsyncv1alpha1.ReasonApplicationActivated, run.activatedMessage(activated, started))
	}
	if m.Status.Status == volsyncv1alpha1.RunStatusPending {
		// Checked once, before the first write; a pass after a restart finds the run in progress.
		overwrites, err := run.selfOverwrites(ctx)
		if err != nil {
			return run.stageFailed(ctx, err)
		}
		if len(overwrites) > 0 {
			return run.finish(ctx, volsyncv1alpha1.RunStatusFailed, ReasonSameNamespace, joinErrors(overwrites))
		}
		m.Status.Status = volsyncv1alpha1.RunStatusInProgress
		run.setCompleted(metav1.ConditionFalse, string(volsyncv1alpha1.RunStatusInProgress), run.progress())
		run.event(corev1.EventTypeNormal, string(volsyncv1alpha1.RunStatusInProgress),
			"migrating namespace(s) %s to cluster pair %q (%s, Kubernetes %s)",
			run.namespacesAndDestinations(), m.Spec.ClusterPair, run.dest.Config.Host, run.dest.ServerVersion)
	}
	if err := run.checkpoint(ctx); err != nil {
		return ctrl.Result{}, err
	}

	for {
		switch m.Status.Stage {
		case volsyncv1alpha1.MigrationStagePreExecRule:
			waiting, f, err := run.runRule(ctx, volsyncv1alpha1.MigrationStagePreExecRule)
			if err != nil {
				return run.stageFailed(ctx, err)
			}
			if f != nil {
				return run.finishAs(ctx, volsyncv1alpha1.RunStatusFailed, f.reason, f.reason, f.msg)
			}
			if waiting {
				run.setCompleted(metav1.ConditionFalse, ReasonRuleWaiting,
					fmt.Sprintf("waiting for the background actions of Rule %q to reach %s", m.Spec.PreExecRule, volsyncv1alpha1.RuleWaitPlaceholder))
				if err := run.checkpoint(ctx); err != nil {
					return ctrl.Result{}, err
				}
				return ctrl.Result{RequeueAfter: ruleWaitPoll}, nil
			}
			m.Status.Stage = volsyncv1alpha1.MigrationStageVolumes
			run.setCompleted(metav1.ConditionFalse, string(volsyncv1alpha1.RunStatusInProgress), run.progress())
			if err := run.checkpoint(ctx); err != nil {
				return ctrl.Result{}, err
			}
		case volsyncv1alpha1.MigrationStagePostExecRule:
			f, err := run.endBackground(ctx)
			if err == nil && f == nil && m.Spec.PostExecRule != "" {
				_, f, err = run.runRule(ctx, volsyncv1alpha1.MigrationStagePostExecRule)
			}
			if err != nil {
				if cerr := run.checkpoint(ctx); cerr != nil {
					return ctrl.Result{}, cerr
				}
				return run.stageFailed(ctx, err)
			}
			if f != nil {
				return run.finishAs(ctx, volsyncv1alpha1.RunStatusFailed, f.reason, f.reason, f.msg)
			}
			m.Status.Stage = volsyncv1alpha1.MigrationStageApplications
			run.setCompleted(metav1.ConditionFalse, string(volsyncv1alpha1.RunStatusInProgress), run.progress())
			if err := run.checkpoint(ctx); err != nil {
				return ctrl.Result{}, err
			}
		case volsyncv1alpha1.MigrationStageVolumes, "":
			if boolOr(m.Spec.IncludeVolumes, true) {
				pending, err := run.migrateVolumes(ctx)
				if err != nil {
					return run.stageFailed(ctx, err)
				}
				if pending {
					// The movers take their time; look again later rather than hold a worker.
					run.setCompleted(metav1.ConditionFalse, string(volsyncv1alpha1.RunStatusInProgress), run.progress())
					if err := run.checkpoint(ctx); err != nil {
						return ctrl.Result{}, err
					}
					return ctrl.Result{RequeueAfter: run.r.VolumePollInterval}, nil
				}
			} else if boolOr(m.Spec.IncludeResources, true) {
				if err := run.migrateSharedVolumes(ctx); err != nil {
					return run.stageFailed(ctx, err)
				}
			}
			t := metav1.NewTime(run.now())
			m.Status.VolumeMigrationFinishTimestamp = &t
			m.Status.Stage = volsyncv1alpha1.MigrationStageApplications
			if m.Spec.PreExecRule != "" || m.Spec.PostExecRule != "" || hasBackground(&m.Status) {
				m.Status.Stage = volsyncv1alpha1.MigrationStagePostExecRule
			}
			run.setCompleted(metav1.ConditionFalse, string(volsyncv1alpha1.RunStatusInProgress), run.progress())
			if err := run.checkpoint(ctx); err != nil {
				return ctrl.Result{}, err
			}
		case volsyncv1alpha1.MigrationStageApplications:
			if boolOr(m.Spec.IncludeResources, true) {
				if _, err := run.selectKinds(ctx, true); err != nil {
					return run.stageFailed(ctx, err)
				}
				if err := run.migrateResources(ctx); err != nil {
					return run.stageFailed(ctx, err)
				}
			}
			t := metav1.NewTime(run.now())
			m.Status.ResourceMigrationFinishTimestamp = &t
			m.Status.Stage = volsyncv1alpha1.MigrationStageFinal
		default: // Final
			o := outcome(&m.Status)
			return run.finish(ctx, o, string(o), outcomeMessage(&m.Status, elapsed(m, run.now())))
		}
	}
}

// stageFailed handles an error from a stage: the destination's failures go to the retry path, a
// stop of volsyncd ends the pass quietly (the checkpoints say where to pick up), and anything
// else (this cluster's API) is returned for the controller's own backoff.
func (run *migrationRun) stageFailed(ctx context.Context, err error) (ctrl.Result, error) {
	if ctx.Err() != nil {
		return ctrl.Result{}, ctx.Err()
	}
	var re *remote.Error
	if errors.As(err, &re) {
		return run.destinationFailed(ctx, err)
	}
	return ctrl.Result{}, err
}

// connect finds the pair, checks the destination for this run's permissions and makes the client.
func (run *migrationRun) connect(ctx context.Context) error {
	m := run.m
	var pair volsyncv1alpha1.ClusterPair
	if err := run.r.Client.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: m.Spec.ClusterPair}, &pair); err != nil {
		if apierrors.IsNotFound(err) {
			return &remote.Error{Reason: ReasonClusterPairNotFound, Err: fmt.Errorf(
				"ClusterPair %s/%s named by spec.clusterPair does not exist: create it, or name an existing one", m.Namespace, m.Spec.ClusterPair)}
		}
		return err
	}
	var perms []remote.Permission
	if boolOr(m.Spec.IncludeResources, true) {
		perms = migrationPermissions(run.kinds, run.destinationNamespaces(), boolOr(m.Spec.PurgeDeletedResources, false))
	}
	if boolOr(m.Spec.IncludeVolumes, true) {
		perms = addPermissions(perms, volumePermissions(run.destinationNamespaces()))
	}
	dest, err := remote.Connect(ctx, run.r.APIReader, &pair, perms)
	if err != nil {
		var re *remote.Error
		if errors.As(err, &re) {
			re.Err = fmt.Errorf("cluster pair %q: %w", pair.Name, re.Err)
		}
		return err
	}
	dst, err := run.r.NewDestinationClient(dest.Config)
	if err != nil {
		return &remote.Error{Reason: volsyncv1alpha1.ReasonUnreachable, Err: fmt.Errorf("cluster pair %q: making a client for %s: %w", pair.Name, dest.Config.Host, err)}
	}
	clusterID, err := run.r.sourceClusterID(ctx)
	if err != nil {
		return err
	}
	run.dest, run.dst, run.clusterID, run.pair = dest, dst, clusterID, &pair
	kind := "Migration"
	if run.schedule != "" {
		kind = "MigrationSchedule"
	}
	run.opts = copier.Options{
		StartApplications: boolOr(m.Spec.StartApplications, false),
		SourceCluster:     clusterID,
		MigratedBy:        m.Namespace + "/" + firstNonEmpty(run.schedule, m.Name),
		MigratedByKind:    kind,
		ClusterPair:       pair.Name,
		NamespaceMapping:  run.mapping,
		KeepVolumeName:    keepsVolumeName(m),
	}
	ready := metav1.Condition{
		Type: ConditionDestinationReady, Status: metav1.ConditionTrue, Reason: volsyncv1alpha1.ReasonConnected,
		Message: fmt.Sprintf("reached %s (Kubernetes %s) through cluster pair %q", dest.Config.Host, dest.ServerVersion, pair.Name),
	}
	run.setCondition(ready)
	return nil
}

// destinationFailed is the retry path: the run waits for the next attempt with the failure and
// the attempt count in its conditions, or, when the budget is spent, ends Failed with the reason.
// Errors that are not the destination's (reading this cluster) go back to the controller.
func (run *migrationRun) destinationFailed(ctx context.Context, err error) (ctrl.Result, error) {
	if ctx.Err() != nil {
		return ctrl.Result{}, ctx.Err()
	}
	var re *remote.Error
	if !errors.As(err, &re) {
		return ctrl.Result{}, err
	}
	m := run.m
	now := run.now()
	policy := run.r.Retry.withDefaults()
	since := now
	if c := meta.FindStatusCondition(m.Status.Conditions, ConditionDestinationReady); c != nil && c.Status == metav1.ConditionFalse {
		since = c.LastTransitionTime.Time
	}
	attempt, next, exhausted := policy.Attempt(since, now)
	if exhausted {
		msg := fmt.Sprintf("gave up after %d attempts over %s: %v", attempt, now.Sub(since), err)
		run.setCondition(metav1.Condition{Type: ConditionDestinationReady, Status: metav1.ConditionFalse, Reason: re.Reason, Message: msg})
		return run.finish(ctx, volsyncv1alpha1.RunStatusFailed, re.Reason, msg)
	}
	msg := fmt.Sprintf("attempt %d of %d failed, next attempt at %s: %v", attempt, policy.Attempts, next.UTC().Format(time.RFC3339), err)
	run.setCondition(metav1.Condition{Type: ConditionDestinationReady, Status: metav1.ConditionFalse, Reason: re.Reason, Message: msg})
	run.setCompleted(metav1.ConditionFalse, re.Reason, msg)
	changed := !equality.Semantic.DeepEqual(run.stored, m.Status)
	if err := run.checkpoint(ctx); err != nil {
		return ctrl.Result{}, err
	}
	if changed {
		run.event(corev1.EventTypeWarning, re.Reason, "%s", msg)
		log.FromContext(ctx).Info("destination not reached; will retry", "attempt", attempt, "next", next, "reason", re.Reason, "error", err.Error())
	}
	return ctrl.Result{RequeueAfter: max(next.Sub(now), time.Second)}, nil
}

// finish ends the run: the final status is written, then the Event and the metrics follow, so a
// write that fails and is redone never counts a run twice. Then what the volume path made goes.
func (run *migrationRun) finish(ctx context.Context, o volsyncv1alpha1.RunStatus, reason, msg string) (ctrl.Result, error) {
	return run.finishAs(ctx, o, reason, string(o), msg)
}

// finishAs is finish with the Event's reason given.
func (run *migrationRun) finishAs(ctx context.Context, o volsyncv1alpha1.RunStatus, reason, eventReason, msg string) (ctrl.Result, error) {
	m := run.m
	t := metav1.NewTime(run.now())
	m.Status.Status = o
	m.Status.Stage = volsyncv1alpha1.MigrationStageFinal
	m.Status.FinishTimestamp = &t
	run.setCompleted(metav1.ConditionTrue, reason, msg)
	// The recovery point goes on the destination before the run says it succeeded, so that whoever
	// sees the success (a failover, a test) finds it there; the data is all copied by now.
	if o == volsyncv1alpha1.RunStatusSuccessful {
		run.markRecoveryPoint(ctx)
	}
	if err := run.checkpoint(ctx); err != nil {
		return ctrl.Result{}, err
	}
	eventType := corev1.EventTypeWarning
	if o == volsyncv1alpha1.RunStatusSuccessful {
		eventType = corev1.EventTypeNormal
	}
	run.event(eventType, eventReason, "migration %s: %s", strings.ToLower(splitCamel(string(o))), msg)
	recordFinished(run.schedule, m)
	log.FromContext(ctx).Info("migration finished", "status", o, "resources", m.Status.Summary.Resources, "volumes", m.Status.Summary.Volumes)
	return run.release(ctx)
}

// checkpoint stores the status when it changed, with the summary recounted from the lists.
func (run *migrationRun) checkpoint(ctx context.Context) error {
	run.m.Status.Summary = summarize(&run.m.Status)
	if equality.Semantic.DeepEqual(run.stored, run.m.Status) {
		return nil
	}
	if err := run.r.Client.Status().Update(ctx, run.m); err != nil {
		return err
	}
	run.stored = *run.m.Status.DeepCopy()
	return nil
}

// progress is the Completed message of a run that is going.
func (run *migrationRun) progress() string {
	total, _ := resourceTotals(&run.m.Status)
	return fmt.Sprintf("stage %s: %d resources copied, %d volumes listed", run.m.Status.Stage, total, len(run.m.Status.Volumes))
}

func (run *migrationRun) setCompleted(status metav1.ConditionStatus, reason, msg string) {
	run.setCondition(metav1.Condition{Type: volsyncv1alpha1.ConditionCompleted, Status: status, Reason: reason, Message: msg})
}

// setCondition sets a condition, at the injected clock's time when its status changes.
func (run *migrationRun) setCondition(c metav1.Condition) {
	c.ObservedGeneration = run.m.Generation
	conditions.Set(&run.m.Status.Conditions, c, run.now())
}

func (run *migrationRun) event(eventType, reason, format string, args ...any) {
	if run.r.Recorder == nil {
		return
	}
	run.r.Recorder.Eventf(run.m, nil, eventType, reason, eventAction, format, args...)
}

// namespaces are spec.namespaces without repeats, in the order given, then those
// spec.namespaceSelectors chose, in name order.
func (run *migrationRun) namespaces() []string {
	return copier.Namespaces(run.m.Spec.Namespaces, run.labelled)
}

// labelledNamespaces lists the source's namespaces that spec.namespaceSelectors choose (any one
// of their labels), by name; none without selectors. A namespace being deleted is not chosen.
func (run *migrationRun) labelledNamespaces(ctx context.Context) ([]string, error) {
	selectors := run.m.Spec.NamespaceSelectors
	if len(selectors) == 0 || copier.CheckNamespaceSelectors(selectors) != nil {
		return nil, nil // an invalid selector fails the run in proceed
	}
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := run.r.APIReader.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing the namespaces spec.namespaceSelectors choose on the source: %w", err)
	}
	var out []string
	for _, ns := range list.Items {
		if ns.DeletionTimestamp.IsZero() && copier.ChosenByNamespaceSelectors(ns.Labels, selectors) {
			out = append(out, ns.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// selectionOf is what of m's spec leaves objects out, one by one.
func selectionOf(m *volsyncv1alpha1.Migration) copier.Selection {
	return copier.Selection{
		Exclude:                      m.Spec.ExcludeSelectors,
		IgnoreOwnerReferences:        boolOr(m.Spec.IgnoreOwnerReferencesCheck, false),
		IncludeNetworkPolicyWithCIDR: boolOr(m.Spec.IncludeNetworkPolicyWithCIDR, false),
	}
}

// destinationNamespaces are the namespaces the run writes on the destination, in the order of
// namespaces.
func (run *migrationRun) destinationNamespaces() []string {
	var out []string
	for _, ns := range run.namespaces() {
		out = append(out, run.mapping.Destination(ns))
	}
	return out
}

// namespacesAndDestinations lists the namespaces for people: "app as app-dr, web".
func (run *migrationRun) namespacesAndDestinations() string {
	var out []string
	for _, ns := range run.namespaces() {
		if run.mapping.Renamed(ns) {
			ns += " as " + run.mapping.Destination(ns)
		}
		out = append(out, ns)
	}
	return strings.Join(out, ", ")
}

// destinationOf is what a status entry records as the destination namespace of source namespace
// ns: its new name, or "" when it keeps its own.
func (run *migrationRun) destinationOf(ns string) string {
	if ns == "" || !run.mapping.Renamed(ns) {
		return ""
	}
	return run.mapping.Destination(ns)
}

// namespaceMapping is spec.namespaceMapping as the copier takes it.
func namespaceMapping(m *volsyncv1alpha1.Migration) copier.NamespaceMapping {
	if len(m.Spec.NamespaceMapping) == 0 {
		return nil
	}
	out := make(copier.NamespaceMapping, len(m.Spec.NamespaceMapping))
	for k, v := range m.Spec.NamespaceMapping {
		out[k] = string(v)
	}
	return out
}

// checkNamespaces refuses a Migration that names namespaces other than its own, unless it is in
// the admin namespace.
func (r *MigrationReconciler) checkNamespaces(m *volsyncv1alpha1.Migration, namespaces []string) error {
	if r.AdminNamespace != "" && m.Namespace == r.AdminNamespace {
		return nil
	}
	var others []string
	for _, ns := range namespaces {
		if ns != m.Namespace && !slices.Contains(others, ns) {
			others = append(others, ns)
		}
	}
	if len(others) == 0 {
		return nil
	}
	where := "no namespace may migrate other namespaces in this installation"
	if r.AdminNamespace != "" {
		where = fmt.Sprintf("create it in the admin namespace %q to migrate other namespaces", r.AdminNamespace)
	}
	return fmt.Errorf("spec.namespaces and spec.namespaceSelectors: a Migration in namespace %q may migrate only %q, not %s; %s",
		m.Namespace, m.Namespace, quoteAll(others), where)
}

// sourceClusterID is SourceClusterID, or the kube-system namespace's UID, read once.
func (r *MigrationReconciler) sourceClusterID(ctx context.Context) (string, error) {
	r.clusterIDMu.Lock()
	defer r.clusterIDMu.Unlock()
	if r.SourceClusterID != "" {
		return r.SourceClusterID, nil
	}
	var ns corev1.Namespace
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, &ns); err != nil {
		return "", fmt.Errorf("reading namespace kube-system to identify this cluster: %w", err)
	}
	r.SourceClusterID = string(ns.UID)
	return r.SourceClusterID, nil
}

// scheduleOf is the MigrationSchedule that made m: its ScheduleLabel, else its controlling owner
// of that kind, else "" for a Migration made by hand.
func scheduleOf(m *volsyncv1alpha1.Migration) string {
	if s := m.Labels[ScheduleLabel]; s != "" {
		return s
	}
	for _, ref := range m.OwnerReferences {
		if ref.Kind == "MigrationSchedule" && ref.Controller != nil && *ref.Controller {
			return ref.Name
		}
	}
	return ""
}

// migrationsOfPair maps a ClusterPair to the unfinished Migrations that use it, so a run waiting
// for its destination tries again as soon as the pair changes (fixed, or found Ready).
func (r *MigrationReconciler) migrationsOfPair(ctx context.Context, pair client.Object) []reconcile.Request {
	var list volsyncv1alpha1.MigrationList
	if err := r.Client.List(ctx, &list, client.InNamespace(pair.GetNamespace()),
		client.MatchingFields{migrationPairIndex: pair.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing the migrations of a cluster pair", "clusterPair", client.ObjectKeyFromObject(pair))
		return nil
	}
	var out []reconcile.Request
	for _, m := range list.Items {
		if !m.Status.Status.Finished() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&m)})
		}
	}
	return out
}

// SetupWithManager registers the controller. The controller's own status writes do not wake it
// (it moves on within a pass and requeues itself); a spec or annotation change does, so
// `kubectl annotate` is a way to make a waiting run try its destination now.
func (r *MigrationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Parallelism <= 0 {
		r.Parallelism = DefaultParallelism
	}
	if r.VolumePollInterval <= 0 {
		r.VolumePollInterval = DefaultVolumePollInterval
	}
	if r.Exec == nil {
		r.Exec = &rule.PodExecutor{Config: mgr.GetConfig()}
	}
	if r.NewDestinationClient == nil {
		r.NewDestinationClient = func(cfg *rest.Config) (client.Client, error) {
			return client.New(cfg, client.Options{})
		}
	}
	registerMetrics()
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &volsyncv1alpha1.Migration{}, migrationPairIndex,
		func(o client.Object) []string {
			return []string{o.(*volsyncv1alpha1.Migration).Spec.ClusterPair}
		}); err != nil {
		return fmt.Errorf("indexing migrations by cluster pair: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&volsyncv1alpha1.Migration{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionStarted))).
		Watches(&volsyncv1alpha1.ClusterPair{}, handler.EnqueueRequestsFromMapFunc(r.migrationsOfPair)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("migration").
		Complete(r)
}

// deletionStarted lets through the update that marks a Migration deleted, whose finalizer this
// controller holds.
var deletionStarted = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld != nil && e.ObjectNew != nil &&
			e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
	},
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// joinErrors is errs as one message.
func joinErrors[E error](errs []E) string {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func kindNames(kinds []copier.Kind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Kind
	}
	return strings.Join(names, ", ")
}

// splitCamel turns "PartialSuccess" into "Partial Success".
func splitCamel(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && c >= 'A' && c <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}
