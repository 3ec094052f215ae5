package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
	"github.com/volsync/volsync/pkg/migration/copier"
	"github.com/volsync/volsync/pkg/schedulepolicy"
)

var migrationScheduleAliases = []string{"migrationschedules", "migsched"}

// migrationSpecFlags are the Migration spec flags that `create migrationschedule` and `create
// migration` share. The defaults are storkctl's where a Stork user would be surprised otherwise:
// resources and volumes are copied (--include-volumes=false leaves the data to shared or
// replicated storage), and applications stay scaled to 0 on the destination until `activate
// migration`. storkctl's camelCase spellings are hidden aliases.
type migrationSpecFlags struct {
	clusterPair       string
	namespaces        []string
	includeResources  bool
	includeVolumes    bool
	startApplications bool
	namespaceMapping  []string

	// What is left out or added, with storkctl's flag names.
	selectors                    map[string]string
	excludeSelectors             map[string]string
	namespaceSelectors           map[string]string
	excludeResources             bool
	excludeVolumes               bool
	disableSkipDeletedNamespaces bool
	ignoreOwnerReferencesCheck   bool
	purgeDeletedResources        bool
	skipServiceUpdate            bool
	includeNetworkPolicyWithCIDR bool
	includeJobs                  bool
	includeOptionalTypes         []string
	excludeResourceTypes         []string

	// The hooks, storkctl's --preExecRule and --postExecRule.
	preExecRule  string
	postExecRule string
}

func (f *migrationSpecFlags) add(fs *pflag.FlagSet) {
	fs.StringVarP(&f.clusterPair, "cluster-pair", "c", "", "the ClusterPair, in the same namespace, that reaches the destination (required)")
	fs.StringSliceVar(&f.namespaces, "namespaces", nil, "namespaces to migrate, comma-separated (required unless --namespace-selectors)")
	fs.BoolVar(&f.includeResources, "include-resources", true, "copy the namespaces' objects")
	fs.BoolVar(&f.includeVolumes, "include-volumes", true, "move the data of the namespaces' PVCs too, as storkctl does; false when the storage is shared or replicated by other means")
	fs.BoolVarP(&f.startApplications, "start-applications", "a", false, "leave Deployments and StatefulSets running on the destination instead of scaled to 0")
	fs.StringArrayVar(&f.namespaceMapping, "namespace-mapping", nil, "migrate namespace SRC as DST on the destination, as SRC=DST; repeat it for more namespaces")
	fs.StringToStringVar(&f.namespaceSelectors, "namespace-selectors", nil, "also migrate every namespace of the source that has any one of these labels, as k=v,k2=v2 (OR'ed, as in storkctl)")
	fs.StringToStringVar(&f.selectors, "selectors", nil, "migrate only objects that have all these labels, as k=v,k2=v2")
	fs.StringToStringVar(&f.excludeSelectors, "exclude-selectors", nil, "leave out every object that has any one of these labels, as k=v,k2=v2")
	fs.StringSliceVar(&f.excludeResourceTypes, "exclude-resource-types", nil, "kinds not to copy, comma-separated, such as Secret,ConfigMap")
	fs.BoolVar(&f.includeJobs, "include-jobs", false, "copy Jobs too (includeOptionalResourceTypes: [Job]); they are left out by default, as in storkctl")
	fs.StringSliceVar(&f.includeOptionalTypes, "include-optional-resource-types", nil, "kinds copied only on request, comma-separated; the only one is Job")
	fs.BoolVar(&f.excludeResources, "exclude-resources", false, "storkctl's --include-resources=false: copy no objects, only volumes")
	fs.BoolVar(&f.excludeVolumes, "exclude-volumes", false, "storkctl's --include-volumes=false: leave the data to shared or replicated storage")
	fs.BoolVar(&f.disableSkipDeletedNamespaces, "disable-skip-deleted-namespaces", false, "fail the run on a listed namespace that no longer exists on the source, instead of skipping it with an Event")
	fs.BoolVar(&f.ignoreOwnerReferencesCheck, "ignore-owner-references-check", false, "also copy objects that another object controls (made by an operator from its custom resource)")
	fs.BoolVar(&f.purgeDeletedResources, "purge-deleted-resources", false, "delete copies on the destination whose source object is gone")
	fs.BoolVar(&f.skipServiceUpdate, "skip-service-update", false, "leave a Service that already exists on the destination as it is there")
	fs.BoolVar(&f.includeNetworkPolicyWithCIDR, "include-network-policy-with-cidr", false, "copy NetworkPolicies that name an ipBlock too (left out by default: a CIDR belongs to the source's network)")
	fs.StringVar(&f.preExecRule, "pre-exec-rule", "", "a Rule to run in each migrated namespace before anything is copied; its background actions hold until the volumes are copied")
	fs.StringVar(&f.postExecRule, "post-exec-rule", "", "a Rule to run in each migrated namespace once the volumes are copied")
	hidden := func(name string) { _ = fs.MarkHidden(name) }
	fs.StringVar(&f.preExecRule, "preExecRule", "", "storkctl's spelling of --pre-exec-rule")
	hidden("preExecRule")
	fs.StringVar(&f.postExecRule, "postExecRule", "", "storkctl's spelling of --post-exec-rule")
	hidden("postExecRule")
	fs.StringVar(&f.clusterPair, "clusterPair", "", "storkctl's spelling of --cluster-pair")
	hidden("clusterPair")
	fs.BoolVar(&f.includeResources, "includeResources", true, "storkctl's spelling of --include-resources")
	hidden("includeResources")
	fs.BoolVar(&f.includeVolumes, "includeVolumes", true, "storkctl's spelling of --include-volumes")
	hidden("includeVolumes")
	fs.BoolVar(&f.startApplications, "startApplications", false, "storkctl's spelling of --start-applications")
	hidden("startApplications")
	for camel, dash := range map[string]string{
		"namespaceSelectors": "namespace-selectors", "excludeSelectors": "exclude-selectors",
		"excludeResourceTypes": "exclude-resource-types", "includeOptionalResourceTypes": "include-optional-resource-types",
		"ignoreOwnerReferencesCheck": "ignore-owner-references-check", "purgeDeletedResources": "purge-deleted-resources",
		"skipServiceUpdate": "skip-service-update", "includeNetworkPolicyWithCIDR": "include-network-policy-with-cidr",
	} {
		// The same value under the manifest's field name, for users who type what they read in YAML.
		dashed := fs.Lookup(dash)
		fs.AddFlag(&pflag.Flag{Name: camel, Usage: "the spec field's spelling of --" + dash, Value: dashed.Value,
			DefValue: dashed.DefValue, NoOptDefVal: dashed.NoOptDefVal, Hidden: true})
	}
}

// spec checks the flags and builds the Migration spec. Every field is set explicitly, so the
// API's own defaults (which start applications) never apply behind the user's back.
func (f *migrationSpecFlags) spec() (volsyncv1alpha1.MigrationSpec, error) {
	if f.clusterPair == "" {
		return volsyncv1alpha1.MigrationSpec{}, cli.Hint(errors.New("no cluster pair given"), "pass -c CLUSTERPAIR; list them with 'kubectl get clusterpairs'")
	}
	var namespaces []string
	for _, ns := range f.namespaces {
		if ns != "" {
			namespaces = append(namespaces, ns)
		}
	}
	if len(namespaces) == 0 && len(f.namespaceSelectors) == 0 {
		return volsyncv1alpha1.MigrationSpec{}, cli.Hint(errors.New("no namespaces given"), "pass --namespaces a,b with the namespaces to migrate, or --namespace-selectors to choose them by label")
	}
	mapping, err := parseNamespaceMapping(f.namespaceMapping, namespaces)
	if err != nil {
		return volsyncv1alpha1.MigrationSpec{}, err
	}
	if err := checkSelectionFlags(f); err != nil {
		return volsyncv1alpha1.MigrationSpec{}, err
	}
	optional := slices.Clone(f.includeOptionalTypes)
	if f.includeJobs && !slices.Contains(optional, "Job") {
		optional = append(optional, "Job")
	}
	return volsyncv1alpha1.MigrationSpec{
		ClusterPair:                  f.clusterPair,
		Namespaces:                   namespaces,
		NamespaceSelectors:           f.namespaceSelectors,
		Selectors:                    f.selectors,
		ExcludeSelectors:             f.excludeSelectors,
		IncludeResources:             ptr.To(f.includeResources && !f.excludeResources),
		IncludeVolumes:               ptr.To(f.includeVolumes && !f.excludeVolumes),
		StartApplications:            ptr.To(f.startApplications),
		NamespaceMapping:             mapping,
		SkipDeletedNamespaces:        ptr.To(!f.disableSkipDeletedNamespaces),
		IgnoreOwnerReferencesCheck:   ptr.To(f.ignoreOwnerReferencesCheck),
		PurgeDeletedResources:        ptr.To(f.purgeDeletedResources),
		SkipServiceUpdate:            ptr.To(f.skipServiceUpdate),
		IncludeNetworkPolicyWithCIDR: ptr.To(f.includeNetworkPolicyWithCIDR),
		IncludeOptionalResourceTypes: optional,
		ExcludeResourceTypes:         f.excludeResourceTypes,
		PreExecRule:                  f.preExecRule,
		PostExecRule:                 f.postExecRule,
	}, nil
}

// checkSelectionFlags tells a bad label or kind in the flag's own terms, before anything is
// created; the controller checks the same again for manifests.
func checkSelectionFlags(f *migrationSpecFlags) error {
	for flag, set := range map[string]map[string]string{"--selectors": f.selectors, "--exclude-selectors": f.excludeSelectors, "--namespace-selectors": f.namespaceSelectors} {
		if _, err := labels.ValidatedSelectorFromSet(set); err != nil {
			return cli.Hint(fmt.Errorf("%s: %w", flag, err), "pass labels as key=value,key2=value2")
		}
	}
	for _, k := range f.includeOptionalTypes {
		if k != "Job" {
			return cli.Hint(fmt.Errorf("--include-optional-resource-types: %q is not an optional kind", k), "the only optional kind is Job (or pass --include-jobs)")
		}
	}
	return nil
}

// parseNamespaceMapping reads the --namespace-mapping values, SRC=DST each, and checks them as
// the API would, so a mistake is told in the flag's terms before anything is created.
func parseNamespaceMapping(values, namespaces []string) (map[string]volsyncv1alpha1.NamespaceName, error) {
	if len(values) == 0 {
		return nil, nil
	}
	mapping := copier.NamespaceMapping{}
	for _, v := range values {
		src, dst, ok := strings.Cut(v, "=")
		src, dst = strings.TrimSpace(src), strings.TrimSpace(dst)
		if !ok || src == "" || dst == "" {
			return nil, cli.Hint(fmt.Errorf("--namespace-mapping %q is not SRC=DST", v), "pass it as --namespace-mapping app=app-dr")
		}
		if prev, twice := mapping[src]; twice && prev != dst {
			return nil, cli.Hint(fmt.Errorf("--namespace-mapping maps namespace %q twice, to %q and to %q", src, prev, dst), "keep one of them")
		}
		mapping[src] = dst
	}
	if err := copier.CheckNamespaceMapping(namespaces, mapping); err != nil {
		return nil, cli.Hint(fmt.Errorf("--namespace-mapping: %w", err), "fix --namespace-mapping or --namespaces")
	}
	out := make(map[string]volsyncv1alpha1.NamespaceName, len(mapping))
	for k, v := range mapping {
		out[k] = volsyncv1alpha1.NamespaceName(v)
	}
	return out, nil
}

// checkClusterPair refuses a cluster pair that does not exist: every Migration would fail.
func (a *app) checkClusterPair(ctx context.Context, c client.Client, ns, name string) error {
	var cp volsyncv1alpha1.ClusterPair
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cp); err != nil {
		if apierrors.IsNotFound(err) && !cli.IsMissingResource(err) {
			return cli.Hint(fmt.Errorf("cluster pair %q not found in namespace %q", name, ns),
				"create it with 'volsyncctl generate clusterpair "+name+" --context DESTINATION | kubectl apply -f -' or pass another -c")
		}
		return a.explain(err)
	}
	return nil
}

func (a *app) getMigrationScheduleCommand() *cobra.Command {
	return a.getCommand(getKind{
		resource: "migrationschedule", aliases: migrationScheduleAliases,
		what: "migration schedule", plural: "migration schedules",
		short: "List migration schedules, or show one",
		long: `List migration schedules as storkctl does: NAME POLICYNAME CLUSTERPAIR SUSPEND LAST-SUCCESS-TIME
LAST-SUCCESS-DURATION. -c shows only the schedules that migrate through one cluster pair.`,
		example: `  volsyncctl get migrationschedule -n mysql
  volsyncctl get migrationschedule -c remotecluster -w`,
		newObject: func() client.Object { return &volsyncv1alpha1.MigrationSchedule{} },
		newList:   func() client.ObjectList { return &volsyncv1alpha1.MigrationScheduleList{} },
		table: func(list client.ObjectList, allNamespaces, _ bool, _ time.Time) cli.Table {
			return cli.MigrationScheduleTable(list.(*volsyncv1alpha1.MigrationScheduleList).Items, allNamespaces)
		},
		clusterPair: func(o client.Object) string {
			return o.(*volsyncv1alpha1.MigrationSchedule).Spec.Template.Spec.ClusterPair
		},
	})
}

func (a *app) createMigrationScheduleCommand() *cobra.Command {
	var (
		f           migrationSpecFlags
		policy      string
		suspend     bool
		autoSuspend bool
	)
	cmd := &cobra.Command{
		Use:     "migrationschedule NAME -c CLUSTERPAIR [-s POLICY] --namespaces NS[,NS...]",
		Aliases: migrationScheduleAliases,
		Short:   "Create a schedule that migrates namespaces to a paired cluster on a schedule policy",
		Example: `  volsyncctl create migrationschedule mysqlmigrationschedule -c remotecluster -s testpolicy --namespaces mysql
  volsyncctl create migrationschedule web -c dr -s nightly --namespaces web,web-db --include-volumes --suspend
  volsyncctl create migrationschedule app-dr -c dr -s every-15-minutes --namespaces app --include-volumes --auto-suspend`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := a.opts.OutputFormat()
			if err != nil {
				return err
			}
			spec, err := f.spec()
			if err != nil {
				return err
			}
			c, err := a.opts.Client()
			if err != nil {
				return err
			}
			ctx, ns := cmd.Context(), a.opts.TargetNamespace()
			if _, err := schedulepolicy.Lookup(ctx, c, ns, policy); err != nil {
				if apierrors.IsNotFound(err) && !cli.IsMissingResource(err) {
					hint := "create it with 'volsyncctl create schedulepolicy " + policy + " ...' or list them with 'volsyncctl get schedulepolicy'"
					if policy == schedulepolicy.DefaultMigrationPolicy {
						hint = "volsyncd creates it at start-up unless it runs with --default-schedule-policies=false; pass -s POLICY, or " + hint
					}
					return cli.Hint(fmt.Errorf("schedule policy %q not found (neither a NamespacedSchedulePolicy in %s nor a SchedulePolicy)", policy, ns), hint)
				}
				return a.explain(err)
			}
			if err := a.checkClusterPair(ctx, c, ns, spec.ClusterPair); err != nil {
				return err
			}
			s := &volsyncv1alpha1.MigrationSchedule{
				TypeMeta:   metav1.TypeMeta{APIVersion: volsyncv1alpha1.GroupVersion.String(), Kind: "MigrationSchedule"},
				ObjectMeta: metav1.ObjectMeta{Name: args[0], Namespace: ns},
				Spec: volsyncv1alpha1.MigrationScheduleSpec{
					Template:           volsyncv1alpha1.MigrationTemplateSpec{Spec: spec},
					SchedulePolicyName: policy,
					Suspend:            ptr.To(suspend),
					AutoSuspend:        autoSuspend,
				},
			}
			if err := c.Create(ctx, s); err != nil {
				if apierrors.IsAlreadyExists(err) {
					return cli.Hint(fmt.Errorf("migration schedule %q already exists in namespace %q", s.Name, ns),
						"delete it first or pick another name")
				}
				return a.explain(err)
			}
			if format != cli.OutputTable {
				scheme, err := volsyncscheme.New()
				if err != nil {
					return err
				}
				return cli.PrintObject(a.out, format, scheme, s, nil)
			}
			fmt.Fprintf(a.out, "migrationschedule/%s created\n", s.Name)
			return nil
		},
	}
	f.add(cmd.Flags())
	cmd.Flags().StringVarP(&policy, "schedule-policy", "s", schedulepolicy.DefaultMigrationPolicy,
		"the NamespacedSchedulePolicy of the namespace, else the SchedulePolicy, that says when to migrate; storkctl's default")
	cmd.Flags().StringVar(&policy, "schedulePolicyName", schedulepolicy.DefaultMigrationPolicy, "storkctl's spelling of --schedule-policy")
	_ = cmd.Flags().MarkHidden("schedulePolicyName")
	cmd.Flags().BoolVar(&suspend, "suspend", false, "create the schedule suspended")
	cmd.Flags().BoolVar(&autoSuspend, "auto-suspend", false, "suspend the schedule by itself once its destination is activated, so no migration undoes a failover")
	return cmd
}

func (a *app) deleteMigrationScheduleCommand() *cobra.Command {
	return a.deleteNamespacedCommand("migrationschedule", migrationScheduleAliases, "migration schedule",
		"Delete a migration schedule and the Migrations it created",
		func(key client.ObjectKey) client.Object {
			return &volsyncv1alpha1.MigrationSchedule{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
		},
		func(ctx context.Context, c client.Client, ns string) (map[string][]string, error) {
			var list volsyncv1alpha1.MigrationScheduleList
			if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
				return nil, err
			}
			users := map[string][]string{}
			for _, s := range list.Items {
				users[s.Spec.Template.Spec.ClusterPair] = append(users[s.Spec.Template.Spec.ClusterPair], s.Name)
			}
			return users, nil
		})
}

func (a *app) suspendMigrationScheduleCommand() *cobra.Command {
	return a.setSuspendCommand(true)
}

func (a *app) resumeMigrationScheduleCommand() *cobra.Command {
	return a.setSuspendCommand(false)
}

// setSuspendCommand is `suspend migrationschedule` or `resume migrationschedule`: by name, or with
// -c for every schedule of the namespace that migrates to that cluster pair, as storkctl does.
func (a *app) setSuspendCommand(suspend bool) *cobra.Command {
	verb, done := "Resume", "resumed"
	if suspend {
		verb, done = "Suspend", "suspended"
	}
	var clusterPair string
	cmd := &cobra.Command{
		Use:     "migrationschedule (NAME | -c CLUSTERPAIR)",
		Aliases: migrationScheduleAliases,
		Short:   verb + " a migration schedule, or every schedule of a cluster pair",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (clusterPair != "") {
				return cli.Hint(errors.New("name one migration schedule or pass -c CLUSTERPAIR"), "see '"+cmd.CommandPath()+" --help'")
			}
			c, err := a.opts.Client()
			if err != nil {
				return err
			}
			ctx, ns := cmd.Context(), a.opts.TargetNamespace()
			var names []string
			if len(args) == 1 {
				names = args
			} else {
				var list volsyncv1alpha1.MigrationScheduleList
				if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
					return a.explain(err)
				}
				for _, s := range list.Items {
					if s.Spec.Template.Spec.ClusterPair == clusterPair {
						names = append(names, s.Name)
					}
				}
				if len(names) == 0 {
					return cli.Hint(fmt.Errorf("no migration schedule in namespace %q uses cluster pair %q", ns, clusterPair),
						"check -c and -n; list them with 'volsyncctl get migrationschedule -n "+ns+"'")
				}
			}
			patch := client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"spec":{"suspend":%t}}`, suspend))
			for _, name := range names {
				s := &volsyncv1alpha1.MigrationSchedule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
				if err := c.Patch(ctx, s, patch); err != nil {
					return a.explainGet(err, "migration schedule", name, "volsyncctl get migrationschedule -n "+ns)
				}
				fmt.Fprintf(a.out, "migrationschedule/%s %s\n", name, done)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&clusterPair, "cluster-pair", "c", "", strings.ToLower(verb)+" every schedule of the namespace that uses this cluster pair")
	return cmd
}
