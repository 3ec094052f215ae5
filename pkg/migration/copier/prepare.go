package copier

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// Options say how an object is shaped for the destination.
type Options struct {
	// StartApplications false scales Deployments and StatefulSets to zero and suspends CronJobs,
	// keeping what they had on the source in annotations.
	StartApplications bool
	// SourceCluster identifies the source cluster; it is the volsyncv1alpha1.MigratedFromLabel value, so it must be
	// a valid label value (a UID is).
	SourceCluster string
	// MigratedBy is the volsyncv1alpha1.MigratedByAnnotation value.
	MigratedBy string
	// NamespaceMapping renames namespaces on the destination (spec.namespaceMapping).
	NamespaceMapping NamespaceMapping
	// MigratedByKind is the MigratedByKindAnnotation value: MigrationSchedule or Migration.
	MigratedByKind string
	// ClusterPair is the MigratedWithClusterPairAnnotation value.
	ClusterPair string
	// KeepVolumeName keeps a PVC bound to the PersistentVolume it names (includeVolumes false:
	// the storage is shared, and the PersistentVolume is migrated too).
	KeepVolumeName bool
}

// droppedAnnotations belong to the source cluster's controllers or tools and mean nothing, or
// something wrong, on the destination.
var droppedAnnotations = []string{
	// kubectl's record of the last apply on the source; left in place it makes the next
	// `kubectl apply` on the destination compute a wrong three-way merge.
	"kubectl.kubernetes.io/last-applied-configuration",
	// The Deployment and DaemonSet controllers' rollout counters on the source.
	"deployment.kubernetes.io/revision",
	"deprecated.daemonset.template.generation",
	// When the source's endpoints controller last changed an Endpoints object.
	"endpoints.kubernetes.io/last-change-trigger-time",
	// How the source's Job controller tracks a Job's Pods.
	"batch.kubernetes.io/job-tracking",
	// The node the source's scheduler picked for a PVC's volume; that node does not exist on the
	// destination and the PVC would never bind.
	"volume.kubernetes.io/selected-node",
	// Which provisioner the source's PV controller handed the PVC to; the destination's decides.
	"volume.kubernetes.io/storage-provisioner",
	"volume.beta.kubernetes.io/storage-provisioner",
	// Activation is a fact about one namespace on one cluster. Carried along, the copy of an
	// activated namespace (a failback's reverse migration, then the next forward one) would be
	// activated without anyone activating it.
	volsyncv1alpha1.ApplicationActivatedAnnotation,
	volsyncv1alpha1.DrillAnnotation,
	// The recovery point of a destination namespace is that cluster's record of what reached it.
	volsyncv1alpha1.RecoveryPointAnnotation,
	volsyncv1alpha1.RecoveryPointMigrationAnnotation,
}

// droppedAnnotationPrefixes are families of annotations dropped whole: pv.kubernetes.io/ records
// how the source's PV controller bound a claim (bind-completed, bound-by-controller).
var droppedAnnotationPrefixes = []string{"pv.kubernetes.io/"}

// injectedConfigMaps are put in every namespace by the cluster itself, with the cluster's own CA.
// Copying the source's would hand workloads on the destination the wrong CA.
var injectedConfigMaps = map[string]bool{
	"kube-root-ca.crt":         true,
	"openshift-service-ca.crt": true,
}

// serviceAccountTokenType is the type of the legacy long-lived token Secrets. Their token is
// signed by the source cluster and is useless, or a leak, anywhere else.
const serviceAccountTokenType = "kubernetes.io/service-account-token"

// Selection is what of a Migration's spec decides, object by object, what is left out beyond
// spec.selectors (which the listing itself applies).
type Selection struct {
	// Exclude is spec.excludeSelectors: an object with any one of these labels is left out.
	Exclude map[string]string
	// IgnoreOwnerReferences is spec.ignoreOwnerReferencesCheck: objects a controller owns are
	// copied too.
	IgnoreOwnerReferences bool
	// IncludeNetworkPolicyWithCIDR is spec.includeNetworkPolicyWithCIDR: NetworkPolicies that
	// name an ipBlock are copied too.
	IncludeNetworkPolicyWithCIDR bool
}

// SkipReason says why an object listed on the source is not copied under s, or "" when it is.
func (s Selection) SkipReason(obj *unstructured.Unstructured) string {
	// Sorted keys, so that an object with several excluded labels always names the same one.
	keys := make([]string, 0, len(s.Exclude))
	for k := range s.Exclude {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	have := obj.GetLabels()
	for _, k := range keys {
		if v, ok := have[k]; ok && v == s.Exclude[k] {
			return fmt.Sprintf("it has the label %s=%s, which spec.excludeSelectors leaves out", k, v)
		}
	}
	if obj.GetKind() == "NetworkPolicy" && !s.IncludeNetworkPolicyWithCIDR && hasIPBlock(obj) {
		return "it names an ipBlock, an address range of the source's network; spec.includeNetworkPolicyWithCIDR copies it"
	}
	return skipReason(obj, !s.IgnoreOwnerReferences)
}

// hasIPBlock says whether a NetworkPolicy names a CIDR among its ingress sources or egress
// destinations.
func hasIPBlock(np *unstructured.Unstructured) bool {
	for _, dir := range [][2]string{{"ingress", "from"}, {"egress", "to"}} {
		rules, _, _ := unstructured.NestedSlice(np.Object, "spec", dir[0])
		for _, r := range rules {
			peers, _ := asMap(r)[dir[1]].([]any)
			for _, p := range peers {
				if _, ok := asMap(p)["ipBlock"]; ok {
					return true
				}
			}
		}
	}
	return false
}

// SkipReason says why an object listed on the source is not copied, or "" when it is. Skipped
// objects are not listed in the Migration's status: they are not the user's objects to migrate.
func SkipReason(obj *unstructured.Unstructured) string {
	return skipReason(obj, true)
}

func skipReason(obj *unstructured.Unstructured, checkOwners bool) string {
	if obj.GetDeletionTimestamp() != nil {
		return "it is being deleted on the source"
	}
	if obj.GetAnnotations()[volsyncv1alpha1.SkipResourceAnnotation] == "true" {
		return "it has the annotation " + volsyncv1alpha1.SkipResourceAnnotation + `: "true"`
	}
	switch obj.GetKind() {
	case "Service":
		if obj.GetNamespace() == "default" && obj.GetName() == "kubernetes" {
			return "it is the cluster's own API server Service, which every cluster has"
		}
	case "Endpoints":
		if obj.GetNamespace() == "default" && obj.GetName() == "kubernetes" {
			return "it lists the cluster's own API servers, which every cluster has"
		}
	case "ClusterRole", "ClusterRoleBinding":
		if builtInRBAC(obj) {
			return "it is one of the cluster's built-in RBAC objects, which every cluster has"
		}
	case "ReplicaSet", "Job":
		// Made by a workload that is copied: a copy would be a second one beside the one the
		// destination's controller makes, even with ignoreOwnerReferencesCheck.
		if ref := metav1.GetControllerOf(obj); ref != nil && madeBy[obj.GetKind()] == ref.Kind {
			return fmt.Sprintf("it is made by %s %s, which is copied", ref.Kind, ref.Name)
		}
	case "ConfigMap":
		if injectedConfigMaps[obj.GetName()] {
			return "the cluster puts it in every namespace with its own CA"
		}
	case "Secret":
		if t, _, _ := unstructured.NestedString(obj.Object, "type"); t == serviceAccountTokenType {
			return "it is a service account token signed by the source cluster"
		}
	case "PersistentVolumeClaim":
		if _, temporary := obj.GetLabels()[volsyncv1alpha1.CleanupLabel]; temporary {
			return "it is a temporary copy a volsync mover made, deleted when its sync ends"
		}
		// A StatefulSet with a PVC retention policy owns its claims; they are still the data the
		// application needs, and the StatefulSet on the destination adopts claims by name.
		return ""
	}
	if !checkOwners {
		return ""
	}
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			return fmt.Sprintf("it is controlled by %s %s, which makes it", ref.Kind, ref.Name)
		}
	}
	return ""
}

// madeBy is, for kinds that workloads make, the kind of workload that makes them.
var madeBy = map[string]string{"ReplicaSet": "Deployment", "Job": "CronJob"}

// Prepare returns the object as it is applied on the destination. It keeps what the user wrote
// and takes out what the source cluster gave the object: identity and bookkeeping (uid,
// resourceVersion, generation, creationTimestamp, deletion fields, managedFields, selfLink,
// ownerReferences, finalizers), status, and the per-kind fields listed in the helpers below. It
// then marks the object with volsyncv1alpha1.MigratedFromLabel and volsyncv1alpha1.MigratedByAnnotation, and, with
// StartApplications false, stops workloads. With a NamespaceMapping the object is put in its
// destination namespace (see renameNamespaces). obj is not modified.
//
// Only name, namespace, labels and annotations are kept from metadata: a whitelist, so a field a
// newer API server adds to metadata can never carry a source value across. Finalizers go because
// the controllers that would remove them run on the source; a copy that keeps them could never be
// deleted on the destination.
func Prepare(obj *unstructured.Unstructured, opts Options) (*unstructured.Unstructured, error) {
	if opts.SourceCluster != "" {
		if errs := validLabelValue(opts.SourceCluster); errs != "" {
			return nil, fmt.Errorf("source cluster id %q is not a valid label value: %s", opts.SourceCluster, errs)
		}
	}
	out := obj.DeepCopy()
	meta := map[string]any{"name": obj.GetName()}
	if ns := obj.GetNamespace(); ns != "" {
		meta["namespace"] = ns
	}
	out.Object["metadata"] = meta
	out.SetLabels(obj.GetLabels())
	out.SetAnnotations(keptAnnotations(obj.GetAnnotations()))
	delete(out.Object, "status")

	var err error
	switch obj.GetKind() {
	case "Namespace":
		// spec holds only the "kubernetes" finalizer, which the destination adds itself.
		delete(out.Object, "spec")
	case "Service":
		err = prepareService(out)
	case "PersistentVolumeClaim":
		prepareClaim(out, opts.KeepVolumeName)
	case "ServiceAccount":
		err = prepareServiceAccount(out)
	case "Deployment", "StatefulSet", "ReplicaSet":
		unstructured.RemoveNestedField(out.Object, "spec", "template", "spec", "nodeName")
		unstructured.RemoveNestedField(out.Object, "spec", "template", "metadata", "creationTimestamp")
		if obj.GetKind() == "StatefulSet" {
			err = prepareClaimTemplates(out)
		}
		if err == nil && !opts.StartApplications {
			err = stopReplicas(out)
		}
	case "DaemonSet":
		unstructured.RemoveNestedField(out.Object, "spec", "template", "spec", "nodeName")
		unstructured.RemoveNestedField(out.Object, "spec", "template", "metadata", "creationTimestamp")
		if !opts.StartApplications {
			err = stopDaemonSet(out)
		}
	case "Job":
		err = prepareJob(out)
		if err == nil && !opts.StartApplications {
			err = suspendCronJob(out)
		}
	case "Endpoints":
		err = prepareEndpoints(out)
	case "ClusterRole":
		// An aggregated role's rules are filled in by the destination's aggregation controller
		// from the roles it selects there; copied rules would fight it.
		if _, aggregated := out.Object["aggregationRule"]; aggregated {
			delete(out.Object, "rules")
		}
	case "CronJob":
		unstructured.RemoveNestedField(out.Object, "spec", "jobTemplate", "spec", "template", "spec", "nodeName")
		unstructured.RemoveNestedField(out.Object, "spec", "jobTemplate", "spec", "template", "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(out.Object, "spec", "jobTemplate", "metadata", "creationTimestamp")
		if !opts.StartApplications {
			err = suspendCronJob(out)
		}
	}
	if err == nil {
		err = renameNamespaces(out, opts.NamespaceMapping)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}

	if opts.SourceCluster != "" {
		l := out.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		l[volsyncv1alpha1.MigratedFromLabel] = opts.SourceCluster
		out.SetLabels(l)
	}
	markCopy(out, opts)
	return out, nil
}

// markCopy marks obj as a static copy: what copied it (volsyncv1alpha1.MigratedByAnnotation and its kind) and
// through which ClusterPair.
func markCopy(obj *unstructured.Unstructured, opts Options) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	for k, v := range map[string]string{
		volsyncv1alpha1.MigratedByAnnotation:              opts.MigratedBy,
		volsyncv1alpha1.MigratedByKindAnnotation:          opts.MigratedByKind,
		volsyncv1alpha1.MigratedWithClusterPairAnnotation: opts.ClusterPair,
	} {
		if v != "" {
			a[k] = v
		}
	}
	if len(a) > 0 {
		obj.SetAnnotations(a)
	}
}

func keptAnnotations(in map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		if isDroppedAnnotation(k) {
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func isDroppedAnnotation(key string) bool {
	for _, d := range droppedAnnotations {
		if key == d {
			return true
		}
	}
	for _, p := range droppedAnnotationPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// prepareService lets the destination allocate what it allocates:
//   - clusterIP and clusterIPs come from the destination's service CIDR (the source's address is
//     most likely outside it, and would be refused); a headless Service keeps "None", which is
//     what makes it headless;
//   - healthCheckNodePort and every port's nodePort come from the destination's node-port range.
//     A node port is allocated per cluster: the source's number may lie outside the destination's
//     range or already be taken there, and either would refuse the whole Service. The cost is
//     that a node port fixed by hand on the source is not kept; clients of a recovery cluster reach
//     it by its own load balancer or DNS name anyway;
//   - loadBalancerIP is the source network's address;
//   - ipFamilies of a single-stack Service were defaulted from the source's network; the
//     destination may be single-stack of the other family. Dual-stack requests are kept, since
//     someone asked for them.
func prepareService(svc *unstructured.Unstructured) error {
	spec, ok, err := unstructured.NestedMap(svc.Object, "spec")
	if err != nil || !ok {
		return err
	}
	if ip, _, _ := unstructured.NestedString(spec, "clusterIP"); ip != "None" {
		delete(spec, "clusterIP")
		delete(spec, "clusterIPs")
	}
	delete(spec, "healthCheckNodePort")
	// An address the source's load balancer was asked for belongs to the source's network; the
	// destination's load balancer picks its own (Stork strips it too).
	delete(spec, "loadBalancerIP")
	if ports, ok := spec["ports"].([]any); ok {
		for _, p := range ports {
			if pm, ok := p.(map[string]any); ok {
				delete(pm, "nodePort")
			}
		}
	}
	if policy, _, _ := unstructured.NestedString(spec, "ipFamilyPolicy"); policy == "" || policy == "SingleStack" {
		delete(spec, "ipFamilies")
	}
	return unstructured.SetNestedMap(svc.Object, spec, "spec")
}

// prepareClaim unbinds a claim from the source's storage: volumeName names a PersistentVolume of
// the source cluster, and dataSource/dataSourceRef name a snapshot, a claim or a populator there.
// On the destination the claim is provisioned afresh, and the data, if asked for, comes with the
// volume stage. With keepVolumeName (shared storage, the PersistentVolume migrated too) the claim
// stays bound to its volume by name.
func prepareClaim(pvc *unstructured.Unstructured, keepVolumeName bool) {
	if !keepVolumeName {
		unstructured.RemoveNestedField(pvc.Object, "spec", "volumeName")
	}
	unstructured.RemoveNestedField(pvc.Object, "spec", "dataSource")
	unstructured.RemoveNestedField(pvc.Object, "spec", "dataSourceRef")
}

// prepareClaimTemplates strips the claim templates of a StatefulSet the way the claims themselves
// are stripped; the API server fills in a status for each template.
func prepareClaimTemplates(sts *unstructured.Unstructured) error {
	templates, ok, err := unstructured.NestedSlice(sts.Object, "spec", "volumeClaimTemplates")
	if err != nil || !ok {
		return err
	}
	for _, t := range templates {
		tm, ok := t.(map[string]any)
		if !ok {
			continue
		}
		delete(tm, "status")
		unstructured.RemoveNestedField(tm, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(tm, "spec", "volumeName")
	}
	return unstructured.SetNestedSlice(sts.Object, templates, "spec", "volumeClaimTemplates")
}

// prepareServiceAccount drops references to the account's auto-generated token Secrets, which are
// not copied (see SkipReason) and would be dangling on the destination. imagePullSecrets and any
// Secret the user listed by hand stay.
func prepareServiceAccount(sa *unstructured.Unstructured) error {
	secrets, ok, err := unstructured.NestedSlice(sa.Object, "secrets")
	if err != nil || !ok {
		return err
	}
	generated := []string{sa.GetName() + "-token-", sa.GetName() + "-dockercfg-"}
	var kept []any
	for _, s := range secrets {
		name, _, _ := unstructured.NestedString(asMap(s), "name")
		if strings.HasPrefix(name, generated[0]) || strings.HasPrefix(name, generated[1]) {
			continue
		}
		kept = append(kept, s)
	}
	if len(kept) == 0 {
		unstructured.RemoveNestedField(sa.Object, "secrets")
		return nil
	}
	return unstructured.SetNestedSlice(sa.Object, kept, "secrets")
}

// stopReplicas scales a Deployment or StatefulSet to zero and keeps the source's count in
// MigrationReplicasAnnotation, which is where activation reads it back from. An object the source
// already holds at zero with the annotation (itself a stopped copy) keeps the count it was stopped
// from, so a chain of migrations never loses it.
func stopReplicas(obj *unstructured.Unstructured) error {
	replicas, found, err := unstructured.NestedInt64(obj.Object, "spec", "replicas")
	if err != nil {
		return err
	}
	if !found {
		replicas = 1 // the API's default
	}
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	if _, had := annotations[volsyncv1alpha1.MigrationReplicasAnnotation]; !had || replicas != 0 {
		annotations[volsyncv1alpha1.MigrationReplicasAnnotation] = strconv.FormatInt(replicas, 10)
	}
	obj.SetAnnotations(annotations)
	return unstructured.SetNestedField(obj.Object, int64(0), "spec", "replicas")
}

// suspendCronJob is stopReplicas for a CronJob or a Job: a schedule that fires, or a Job that
// runs, on the recovery cluster while the source still runs would do the same work twice.
func suspendCronJob(obj *unstructured.Unstructured) error {
	suspended, _, err := unstructured.NestedBool(obj.Object, "spec", "suspend")
	if err != nil {
		return err
	}
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	if _, had := annotations[volsyncv1alpha1.MigrationSuspendAnnotation]; !had || !suspended {
		annotations[volsyncv1alpha1.MigrationSuspendAnnotation] = strconv.FormatBool(suspended)
	}
	obj.SetAnnotations(annotations)
	return unstructured.SetNestedField(obj.Object, true, "spec", "suspend")
}

// stopDaemonSet keeps a DaemonSet's Pods off every node of the destination while the copy is not
// activated: a DaemonSet has no replica count to hold at zero, so its Pod template gets the node
// selector volsyncv1alpha1.MigrationStoppedNodeLabel, which no node carries. Activation takes
// that one key out again; the rest of the source's node selector stays as it was.
func stopDaemonSet(ds *unstructured.Unstructured) error {
	sel, _, err := unstructured.NestedStringMap(ds.Object, "spec", "template", "spec", "nodeSelector")
	if err != nil {
		return err
	}
	if sel == nil {
		sel = map[string]string{}
	}
	sel[volsyncv1alpha1.MigrationStoppedNodeLabel] = "true"
	return unstructured.SetNestedStringMap(ds.Object, sel, "spec", "template", "spec", "nodeSelector")
}

// jobControllerLabels are what the source's API server put on a Job's Pod template to tie it to
// that Job's UID; the destination's ties the copy to its own.
var jobControllerLabels = []string{"controller-uid", "batch.kubernetes.io/controller-uid"}

// prepareJob takes out the selector the source generated from the Job's UID (unless the user
// wrote it: manualSelector), and the UID labels on the Pod template it matches. The destination
// generates both afresh; a copy with the source's would be refused.
func prepareJob(job *unstructured.Unstructured) error {
	unstructured.RemoveNestedField(job.Object, "spec", "template", "spec", "nodeName")
	unstructured.RemoveNestedField(job.Object, "spec", "template", "metadata", "creationTimestamp")
	if manual, _, _ := unstructured.NestedBool(job.Object, "spec", "manualSelector"); manual {
		return nil
	}
	unstructured.RemoveNestedField(job.Object, "spec", "selector")
	l, found, err := unstructured.NestedStringMap(job.Object, "spec", "template", "metadata", "labels")
	if err != nil || !found {
		return err
	}
	for _, k := range jobControllerLabels {
		delete(l, k)
	}
	return unstructured.SetNestedStringMap(job.Object, l, "spec", "template", "metadata", "labels")
}

// prepareEndpoints takes out, from each address of an Endpoints object, the node and the object
// of the source cluster it points at; the addresses themselves are what the Service is for.
func prepareEndpoints(ep *unstructured.Unstructured) error {
	subsets, found, err := unstructured.NestedSlice(ep.Object, "subsets")
	if err != nil || !found {
		return err
	}
	for _, s := range subsets {
		for _, list := range []string{"addresses", "notReadyAddresses"} {
			addrs, _ := asMap(s)[list].([]any)
			for _, a := range addrs {
				am := asMap(a)
				delete(am, "nodeName")
				delete(am, "targetRef")
			}
		}
	}
	return unstructured.SetNestedSlice(ep.Object, subsets, "subsets")
}

// CheckExcludeSelectors validates spec.excludeSelectors: each must be a valid label key and value.
func CheckExcludeSelectors(exclude map[string]string) error {
	if _, err := labels.ValidatedSelectorFromSet(exclude); err != nil {
		return fmt.Errorf("spec.excludeSelectors: %w", err)
	}
	return nil
}

// Namespaces is what a Migration migrates: listed (spec.namespaces) in its order without repeats,
// then labelled (those spec.namespaceSelectors chose) in name order, without those already listed.
func Namespaces(listed, labelled []string) []string {
	var out []string
	for _, ns := range listed {
		if !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	chosen := slices.Clone(labelled)
	slices.Sort(chosen)
	for _, ns := range chosen {
		if !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out
}

// CheckNamespaceSelectors refuses a spec.namespaceSelectors that is not a set of valid labels.
func CheckNamespaceSelectors(selectors map[string]string) error {
	if _, err := labels.ValidatedSelectorFromSet(selectors); err != nil {
		return fmt.Errorf("spec.namespaceSelectors: %w", err)
	}
	return nil
}

// ChosenByNamespaceSelectors says whether a namespace with these labels is one that
// spec.namespaceSelectors choose: it has any one of the selectors' labels (key and value). The
// selectors are OR'ed, as in Stork, which lists the namespaces of each label and merges them; no
// selectors choose nothing.
func ChosenByNamespaceSelectors(namespaceLabels, selectors map[string]string) bool {
	for k, v := range selectors {
		if got, ok := namespaceLabels[k]; ok && got == v {
			return true
		}
	}
	return false
}

// Selector is the label selector of spec.selectors: objects with all these labels. An empty map
// selects everything.
func Selector(selectors map[string]string) (labels.Selector, error) {
	s, err := labels.ValidatedSelectorFromSet(selectors)
	if err != nil {
		return nil, fmt.Errorf("spec.selectors: %w", err)
	}
	return s, nil
}

// PurgeSelector selects, on the destination, the objects a Migration with these selectors copied
// from sourceCluster into one destination namespace: the candidates for purgeDeletedResources.
// renamedFrom is the source namespace when spec.namespaceMapping renamed it, "" when it kept its
// name (see volsyncv1alpha1.MigratedFromNamespaceLabel). Requiring the user's selectors as well means two
// schedules that migrate different labels of one namespace never purge each other's objects.
func PurgeSelector(sourceCluster, renamedFrom string, selectors map[string]string) (labels.Selector, error) {
	set := labels.Set{}
	for k, v := range selectors {
		set[k] = v
	}
	set[volsyncv1alpha1.MigratedFromLabel] = sourceCluster
	if renamedFrom != "" {
		set[volsyncv1alpha1.MigratedFromNamespaceLabel] = renamedFrom
	}
	s, err := labels.ValidatedSelectorFromSet(set)
	if err != nil {
		return nil, fmt.Errorf("spec.selectors: %w", err)
	}
	if renamedFrom == "" {
		r, err := labels.NewRequirement(volsyncv1alpha1.MigratedFromNamespaceLabel, selection.DoesNotExist, nil)
		if err != nil {
			return nil, err
		}
		s = s.Add(*r)
	}
	return s, nil
}

// Stale is the names on the destination that are no longer on the source, sorted: what
// purgeDeletedResources deletes.
func Stale(destination, source []string) []string {
	keep := make(map[string]bool, len(source))
	for _, n := range source {
		keep[n] = true
	}
	var out []string
	for _, n := range destination {
		if !keep[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func validLabelValue(v string) string {
	if _, err := labels.ValidatedSelectorFromSet(labels.Set{"k": v}); err != nil {
		return err.Error()
	}
	return ""
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
