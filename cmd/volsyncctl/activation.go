package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
)

// A destination namespace is a static copy until it is activated, which is recorded on the
// Namespace (volsync.backube/application-activated). The order of the steps matters:
//   - activate records the activation first and scales up second, so a scheduled Migration that
//     starts in between is refused (reason ApplicationActivated) instead of scaling the
//     application that has just started back to 0;
//   - deactivate scales to 0 first and removes the record second, so no Migration overwrites an
//     application that still runs.
// The MigrationSchedules that feed the namespaces are then told, on the source cluster, when it
// can be reached; when it cannot, their next Migration into the namespace learns it the hard
// way (it fails with reason ApplicationActivated), which is safe, so that is not an error.

// sourceTimeout bounds each request to a source cluster that may be down.
const sourceTimeout = 10 * time.Second

// site is one cluster a command talks to.
type site struct {
	client client.Client
	// host is the API server's address, for messages.
	host string
	// name is how the user selected it, for messages: "context dr", "cluster pair remote".
	name string
}

func (s site) explain(err error) error { return cli.Explain(err, s.host) }

// globalSite is the cluster --kubeconfig and --context select.
func (a *app) globalSite() (site, error) {
	c, host, err := a.opts.ClientWithin(0)
	if err != nil {
		return site{}, err
	}
	name := "the current context"
	if a.opts.Context != "" {
		name = "context " + a.opts.Context
	}
	return site{client: c, host: host, name: name}, nil
}

// contextSite is another context of the same kubeconfig, its requests bounded by timeout (0: no
// bound). Only the kubeconfig is read here; a cluster that is down shows in the first request.
func (a *app) contextSite(name string, timeout time.Duration) (site, error) {
	c, host, err := a.opts.WithContext(name).ClientWithin(timeout)
	if err != nil {
		return site{}, err
	}
	return site{client: c, host: host, name: "context " + name}, nil
}

// mergePatch is a JSON merge patch of v. A nil value in a map removes that key.
func mergePatch(v any) client.Patch {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("a merge patch of plain maps always marshals: %v", err))
	}
	return client.RawPatch("application/merge-patch+json", data)
}

// annotationPatch sets (or, with a nil value, removes) one annotation.
func annotationPatch(key string, value *string) client.Patch {
	return mergePatch(map[string]any{"metadata": map[string]any{"annotations": map[string]any{key: value}}})
}

// scalePlan is what activating or deactivating one namespace changes. It is read and checked in
// full before anything is written, so a bad annotation refuses the command with nothing changed.
type scalePlan struct {
	namespace  string
	workloads  []workloadScale
	suspends   []suspendSet
	daemonSets []daemonSetStop
}

// workloadScale is one Deployment, StatefulSet or unowned ReplicaSet and the replica count it gets.
type workloadScale struct {
	obj      client.Object
	kind     string
	replicas int32
}

// suspendSet is one CronJob or Job and the suspend it gets.
type suspendSet struct {
	obj     client.Object
	kind    string
	suspend bool
}

// daemonSetStop is one migrated DaemonSet and whether its Pods are kept off every node (the
// node selector volsyncv1alpha1.MigrationStoppedNodeLabel) or may run.
type daemonSetStop struct {
	ds      *appsv1.DaemonSet
	stopped bool
}

func (p scalePlan) empty() bool {
	return len(p.workloads) == 0 && len(p.suspends) == 0 && len(p.daemonSets) == 0
}

// planScales plans every namespace; the first object with a bad annotation is the error.
func (a *app) planScales(ctx context.Context, s site, namespaces []string, activate bool) ([]scalePlan, error) {
	plans := make([]scalePlan, 0, len(namespaces))
	for _, ns := range namespaces {
		p, err := a.planScale(ctx, s, ns, activate)
		if err != nil {
			return nil, err
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// planScale reads the migrated workloads of one namespace: the Deployments, StatefulSets,
// ReplicaSets, CronJobs and Jobs that carry the annotations a migration with
// startApplications=false leaves, and the DaemonSets it copied. Activating gives them the
// source's replica count and suspend back and lets DaemonSets onto the nodes; deactivating gives
// them 0 and suspend and keeps DaemonSets off every node.
func (a *app) planScale(ctx context.Context, s site, ns string, activate bool) (scalePlan, error) {
	p := scalePlan{namespace: ns}
	var deployments appsv1.DeploymentList
	var statefulSets appsv1.StatefulSetList
	var replicaSets appsv1.ReplicaSetList
	var cronJobs batchv1.CronJobList
	var jobs batchv1.JobList
	var daemonSets appsv1.DaemonSetList
	for _, list := range []client.ObjectList{&deployments, &statefulSets, &replicaSets, &cronJobs, &jobs, &daemonSets} {
		if err := s.client.List(ctx, list, client.InNamespace(ns)); err != nil {
			return p, s.explain(err)
		}
	}
	var objects []client.Object
	for i := range deployments.Items {
		objects = append(objects, &deployments.Items[i])
	}
	for i := range statefulSets.Items {
		objects = append(objects, &statefulSets.Items[i])
	}
	for i := range replicaSets.Items {
		objects = append(objects, &replicaSets.Items[i])
	}
	for _, o := range objects {
		replicas, ok, err := cli.MigrationReplicas(o.GetAnnotations())
		if !ok {
			continue
		}
		kind := workloadKind(o)
		if err != nil {
			return p, cli.Hint(fmt.Errorf("%s %s/%s: %w", kind, ns, o.GetName(), err), "set it to the replica count the application should run with")
		}
		if !activate {
			replicas = 0
		}
		p.workloads = append(p.workloads, workloadScale{obj: o, kind: kind, replicas: replicas})
	}
	var suspendable []client.Object
	for i := range cronJobs.Items {
		suspendable = append(suspendable, &cronJobs.Items[i])
	}
	for i := range jobs.Items {
		suspendable = append(suspendable, &jobs.Items[i])
	}
	for _, o := range suspendable {
		source, ok := o.GetAnnotations()[volsyncv1alpha1.MigrationSuspendAnnotation]
		if !ok {
			continue
		}
		kind := workloadKind(o)
		suspend := true
		if activate {
			var err error
			if suspend, err = strconv.ParseBool(source); err != nil {
				return p, cli.Hint(fmt.Errorf("%s %s/%s: annotation %s is %q, not true or false",
					kind, ns, o.GetName(), volsyncv1alpha1.MigrationSuspendAnnotation, source), "set it to whether the "+strings.TrimSuffix(kind, ".batch")+" should be suspended")
			}
		}
		p.suspends = append(p.suspends, suspendSet{obj: o, kind: kind, suspend: suspend})
	}
	for i := range daemonSets.Items {
		ds := &daemonSets.Items[i]
		_, stopped := ds.Spec.Template.Spec.NodeSelector[volsyncv1alpha1.MigrationStoppedNodeLabel]
		if _, migrated := ds.Labels[volsyncv1alpha1.MigratedFromLabel]; !migrated && !stopped {
			continue // not a copy: never stop what a migration did not make
		}
		p.daemonSets = append(p.daemonSets, daemonSetStop{ds: ds, stopped: !activate})
	}
	return p, nil
}

func workloadKind(o client.Object) string {
	switch o.(type) {
	case *appsv1.StatefulSet:
		return "statefulset.apps"
	case *appsv1.ReplicaSet:
		return "replicaset.apps"
	case *batchv1.CronJob:
		return "cronjob.batch"
	case *batchv1.Job:
		return "job.batch"
	}
	return "deployment.apps"
}

// applyScales carries the plans out, one printed line per object.
func (a *app) applyScales(ctx context.Context, s site, plans []scalePlan) error {
	for _, p := range plans {
		for _, w := range p.workloads {
			if err := s.client.Patch(ctx, w.obj, mergePatch(map[string]any{"spec": map[string]any{"replicas": w.replicas}})); err != nil {
				return s.explain(err)
			}
			fmt.Fprintf(a.out, "%s/%s scaled to %d in namespace %s\n", w.kind, w.obj.GetName(), w.replicas, p.namespace)
		}
		for _, c := range p.suspends {
			if err := s.client.Patch(ctx, c.obj, mergePatch(map[string]any{"spec": map[string]any{"suspend": c.suspend}})); err != nil {
				return s.explain(err)
			}
			fmt.Fprintf(a.out, "%s/%s suspend set to %t in namespace %s\n", c.kind, c.obj.GetName(), c.suspend, p.namespace)
		}
		for _, d := range p.daemonSets {
			// A merge patch of null takes the one key out and leaves the source's own selector.
			var value any
			verb := "may run on the nodes again"
			if d.stopped {
				value, verb = "true", "kept off every node"
			}
			patch := map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"nodeSelector": map[string]any{volsyncv1alpha1.MigrationStoppedNodeLabel: value}}}}}
			if err := s.client.Patch(ctx, d.ds, mergePatch(patch)); err != nil {
				return s.explain(err)
			}
			fmt.Fprintf(a.out, "daemonset.apps/%s %s in namespace %s\n", d.ds.Name, verb, p.namespace)
		}
	}
	return nil
}

// readNamespaces reads the named namespaces; a missing one is an error that says where to look.
func (a *app) readNamespaces(ctx context.Context, s site, names []string) ([]*corev1.Namespace, error) {
	out := make([]*corev1.Namespace, 0, len(names))
	for _, name := range names {
		var ns corev1.Namespace
		if err := s.client.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, cli.Hint(fmt.Errorf("namespace %q not found on %s", name, s.name),
					"name the namespaces as they are on the destination cluster, and point --context at it")
			}
			return nil, s.explain(err)
		}
		out = append(out, &ns)
	}
	return out, nil
}

// markActivated records the activation on each namespace. A namespace activated already keeps
// the time of its first activation.
func (a *app) markActivated(ctx context.Context, s site, namespaces []*corev1.Namespace, now time.Time) error {
	at := now.UTC().Format(time.RFC3339)
	for _, ns := range namespaces {
		if was, ok := ns.Annotations[volsyncv1alpha1.ApplicationActivatedAnnotation]; ok {
			fmt.Fprintf(a.out, "namespace/%s already activated at %s\n", ns.Name, was)
			continue
		}
		if err := s.client.Patch(ctx, ns, annotationPatch(volsyncv1alpha1.ApplicationActivatedAnnotation, &at)); err != nil {
			return s.explain(err)
		}
		fmt.Fprintf(a.out, "namespace/%s annotated %s=%s\n", ns.Name, volsyncv1alpha1.ApplicationActivatedAnnotation, at)
	}
	return nil
}

// clearActivated removes the record of the activation from each namespace.
func (a *app) clearActivated(ctx context.Context, s site, namespaces []*corev1.Namespace) error {
	for _, ns := range namespaces {
		if _, ok := ns.Annotations[volsyncv1alpha1.ApplicationActivatedAnnotation]; !ok {
			fmt.Fprintf(a.out, "namespace/%s was not activated\n", ns.Name)
			continue
		}
		if err := s.client.Patch(ctx, ns, annotationPatch(volsyncv1alpha1.ApplicationActivatedAnnotation, nil)); err != nil {
			return s.explain(err)
		}
		fmt.Fprintf(a.out, "namespace/%s annotation %s removed\n", ns.Name, volsyncv1alpha1.ApplicationActivatedAnnotation)
	}
	return nil
}

// feedingSchedule is a MigrationSchedule, on a source cluster, whose Migrations wrote some of the
// destination namespaces.
type feedingSchedule struct {
	namespace, name string
	// sourceCluster is the source's cluster id (the namespaces' migrated-from label).
	sourceCluster string
	// destinations are the namespaces it wrote, sorted.
	destinations []string
}

// feedingSchedules groups the namespaces by the schedule that wrote them, in name order.
func feedingSchedules(namespaces []*corev1.Namespace) []feedingSchedule {
	byKey := map[string]*feedingSchedule{}
	for _, ns := range namespaces {
		n, name, ok := cli.FeedingSchedule(ns.Annotations)
		if !ok {
			continue
		}
		key := n + "/" + name
		fs := byKey[key]
		if fs == nil {
			fs = &feedingSchedule{namespace: n, name: name, sourceCluster: ns.Labels[volsyncv1alpha1.MigratedFromLabel]}
			byKey[key] = fs
		}
		fs.destinations = append(fs.destinations, ns.Name)
	}
	out := make([]feedingSchedule, 0, len(byKey))
	for _, fs := range byKey {
		sort.Strings(fs.destinations)
		out = append(out, *fs)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].namespace+"/"+out[i].name < out[j].namespace+"/"+out[j].name
	})
	return out
}

// clusterID is the cluster's identity as migrations record it (volsyncv1alpha1.MigratedFromLabel): the UID
// of its kube-system namespace. "" when it cannot be read.
func clusterID(ctx context.Context, s site) string {
	ctx, cancel := context.WithTimeout(ctx, sourceTimeout)
	defer cancel()
	var ns corev1.Namespace
	if err := s.client.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, &ns); err != nil {
		return ""
	}
	return string(ns.UID)
}

// tellSchedules sets (or clears) status.applicationActivated on the schedules that feed the
// namespaces, on source when given, else on dest itself for a schedule that migrated within this
// one cluster. A schedule that cannot be reached gets a warning line, not an error.
func (a *app) tellSchedules(ctx context.Context, dest site, source *site, namespaces []*corev1.Namespace, activated bool) {
	schedules := feedingSchedules(namespaces)
	if len(schedules) == 0 {
		return
	}
	thisCluster := ""
	if source == nil {
		thisCluster = clusterID(ctx, dest)
	}
	for _, fs := range schedules {
		on := source
		if on == nil && thisCluster != "" && fs.sourceCluster == thisCluster {
			on = &dest
		}
		if on == nil {
			a.warnNotTold(fs.namespace, fs.name, fs.destinations, activated, "its source cluster is another cluster: pass --source-context to reach it")
			continue
		}
		if err := a.setScheduleActivated(ctx, *on, fs.namespace, fs.name, activated); err != nil {
			a.warnNotTold(fs.namespace, fs.name, fs.destinations, activated, err.Error())
		}
	}
}

// warnNotTold says on stderr that a schedule does not know of the activation, and what follows.
func (a *app) warnNotTold(namespace, name string, destinations []string, activated bool, why string) {
	nss := strings.Join(destinations, ", ")
	if activated {
		fmt.Fprintf(a.root.ErrOrStderr(), "warning: migrationschedule %s/%s was not told of the activation (%s): "+
			"its next migration into namespace(s) %s fails with reason ApplicationActivated (and, with autoSuspend, suspends it)\n",
			namespace, name, why, nss)
		return
	}
	fmt.Fprintf(a.root.ErrOrStderr(), "warning: migrationschedule %s/%s was not told of the deactivation (%s): "+
		"it reports applicationActivated until a migration finds namespace(s) %s deactivated; resume it with "+
		"'volsyncctl resume migrationschedule %s -n %s' if it suspended itself\n", namespace, name, why, nss, name, namespace)
}

// setScheduleActivated writes status.applicationActivated of one schedule, printing what it did.
func (a *app) setScheduleActivated(ctx context.Context, s site, namespace, name string, activated bool) error {
	ctx, cancel := context.WithTimeout(ctx, sourceTimeout)
	defer cancel()
	var ms volsyncv1alpha1.MigrationSchedule
	if err := s.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &ms); err != nil {
		if apierrors.IsNotFound(err) && !cli.IsMissingResource(err) {
			return fmt.Errorf("it is not on %s", s.name)
		}
		return describeRequestError(err, s, sourceTimeout)
	}
	if ms.Status.ApplicationActivated == activated {
		fmt.Fprintf(a.out, "migrationschedule/%s status.applicationActivated already %t in namespace %s\n", name, activated, namespace)
		return nil
	}
	patch := mergePatch(map[string]any{"status": map[string]any{"applicationActivated": activated}})
	if err := s.client.Status().Patch(ctx, &ms, patch); err != nil {
		return describeRequestError(err, s, sourceTimeout)
	}
	fmt.Fprintf(a.out, "migrationschedule/%s status.applicationActivated set to %t in namespace %s\n", name, activated, namespace)
	return nil
}

// describeRequestError is a failed request to s, whose requests give up after timeout, in a few
// words.
func describeRequestError(err error, s site, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) || isClientTimeout(err) {
		return fmt.Errorf("%s (%s) did not answer within %s", s.name, s.host, timeout)
	}
	return fmt.Errorf("%s (%s): %w", s.name, s.host, err)
}

// anyActivated says whether some namespace carries the activation record.
func anyActivated(namespaces []*corev1.Namespace) bool {
	return slices.ContainsFunc(namespaces, func(ns *corev1.Namespace) bool {
		_, ok := ns.Annotations[volsyncv1alpha1.ApplicationActivatedAnnotation]
		return ok
	})
}

// namespaceNames are the names of the namespaces.
func namespaceNames(namespaces []*corev1.Namespace) []string {
	out := make([]string, len(namespaces))
	for i, ns := range namespaces {
		out[i] = ns.Name
	}
	return out
}

// isClientTimeout says whether err is an HTTP request that gave up after the client's timeout.
func isClientTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
