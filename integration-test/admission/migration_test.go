package admission

import (
	"strings"
	"testing"
)

// migrationSpec is a valid Migration spec in flow YAML, for bodies that change one thing.
// noNamespacePhrase is the message of the rule that a Migration names at least one namespace.
const noNamespacePhrase = "namespaces must list at least one namespace, or namespaceSelectors choose them by label"

const migrationSpec = `{clusterPair: remotecluster, namespaces: [migrationnamespace]}`

var migrationScheduleRefusals = []refusal{
	{name: "a MigrationSchedule without schedulePolicyName is refused", kind: "MigrationSchedule",
		body: `spec: {template: {spec: ` + migrationSpec + `}}`,
		want: []cause{{"spec.schedulePolicyName", requiredPhrase}}},
	{name: "a MigrationSchedule with an empty schedulePolicyName is refused", kind: "MigrationSchedule",
		body: `spec: {schedulePolicyName: "", template: {spec: ` + migrationSpec + `}}`,
		want: []cause{{"spec.schedulePolicyName", "at least 1 chars long"}}},
	{name: "a MigrationSchedule without template is refused", kind: "MigrationSchedule",
		body: `spec: {schedulePolicyName: testpolicy}`,
		want: []cause{{"spec.template", requiredPhrase}}},
	{name: "a MigrationSchedule whose template has no namespaces is refused", kind: "MigrationSchedule",
		body: `spec: {schedulePolicyName: testpolicy, template: {spec: {clusterPair: remotecluster}}}`,
		want: []cause{{"spec.template.spec.namespaces", noNamespacePhrase}}},
	{name: "a MigrationSchedule whose template has an empty clusterPair is refused", kind: "MigrationSchedule",
		body: `spec: {schedulePolicyName: testpolicy, template: {spec: {clusterPair: "", namespaces: [app]}}}`,
		want: []cause{{"spec.template.spec.clusterPair", "at least 1 chars long"}}},
	{name: "a MigrationSchedule whose template maps two namespaces to one is refused", kind: "MigrationSchedule",
		body: `spec: {schedulePolicyName: testpolicy, template: {spec: {clusterPair: remotecluster, namespaces: [app, db], namespaceMapping: {app: dr, db: dr}}}}`,
		want: []cause{{"spec.template.spec.namespaceMapping", "must not map two namespaces to the same destination namespace"}}},
	{name: "a MigrationSchedule with suspend of \"yes\" is refused", kind: "MigrationSchedule",
		body: `spec: {schedulePolicyName: testpolicy, suspend: "yes", template: {spec: ` + migrationSpec + `}}`,
		want: []cause{{"spec.suspend", "must be of type boolean"}}},
}

var migrationRefusals = []refusal{
	{name: "a Migration with no namespaces is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster}`,
		want: []cause{{"spec.namespaces", noNamespacePhrase}}},
	{name: "a Migration with an empty list of namespaces is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: []}`,
		want: []cause{{"spec.namespaces", noNamespacePhrase}}},
	{name: "a Migration with an empty list of namespaces and empty namespaceSelectors is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [], namespaceSelectors: {}}`,
		want: []cause{{"spec.namespaces", noNamespacePhrase}}},
	{name: "a Migration that maps a namespace while only namespaceSelectors choose them is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaceSelectors: {team: shop}, namespaceMapping: {app: app-dr}}`,
		want: []cause{{"spec.namespaceMapping", "every key of namespaceMapping must be a namespace listed in namespaces"}}},
	{name: "a Migration with an empty clusterPair is refused", kind: "Migration",
		body: `spec: {clusterPair: "", namespaces: [app]}`,
		want: []cause{{"spec.clusterPair", "at least 1 chars long"}}},
	{name: "a Migration without clusterPair is refused", kind: "Migration",
		body: `spec: {namespaces: [app]}`,
		want: []cause{{"spec.clusterPair", requiredPhrase}}},
	{name: "a Migration of an empty namespace name is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app, ""]}`,
		want: []cause{{"spec.namespaces[1]", "at least 1 chars long"}}},
	{name: "a Migration of a namespace name longer than 63 characters is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [` + strings.Repeat("n", 64) + `]}`,
		want: []cause{{"spec.namespaces[0]", "Too long"}}},
	{name: "a Migration that maps a namespace it does not migrate is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app], namespaceMapping: {db: db-dr}}`,
		want: []cause{{"spec.namespaceMapping", "every key of namespaceMapping must be a namespace listed in namespaces"}}},
	{name: "a Migration that maps two namespaces to the same destination namespace is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app, db], namespaceMapping: {app: dr, db: dr}}`,
		want: []cause{{"spec.namespaceMapping", "must not map two namespaces to the same destination namespace"}}},
	{name: "a Migration that maps a namespace onto another it migrates under its own name is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app, db], namespaceMapping: {app: db}}`,
		want: []cause{{"spec.namespaceMapping", "a namespace with no entry keeps its own name"}}},
	{name: "a Migration that maps to a name that is not a DNS-1123 label is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app], namespaceMapping: {app: App_DR}}`,
		want: []cause{{"spec.namespaceMapping.app", "should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"}}},
	{name: "a Migration that maps to an empty name is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app], namespaceMapping: {app: ""}}`,
		want: []cause{{"spec.namespaceMapping.app", "at least 1 chars long"}}},
	{name: "a Migration that maps to a name longer than 63 characters is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app], namespaceMapping: {app: ` + strings.Repeat("n", 64) + `}}`,
		want: []cause{{"spec.namespaceMapping.app", "Too long"}}},
	{name: "a Migration with skipDeletedNamespaces of \"yes\" is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app], skipDeletedNamespaces: "yes"}`,
		want: []cause{{"spec.skipDeletedNamespaces", "must be of type boolean"}}},
	{name: "a Migration with includeVolumes of \"yes\" is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app], includeVolumes: "yes"}`,
		want: []cause{{"spec.includeVolumes", "must be of type boolean"}}},
}

var clusterPairRefusals = []refusal{
	{name: "a ClusterPair without kubeconfigSecretRef.name is refused", kind: "ClusterPair",
		body: `spec: {kubeconfigSecretRef: {key: kubeconfig}}`,
		want: []cause{{"spec.kubeconfigSecretRef.name", requiredPhrase}}},
	{name: "a ClusterPair with an empty kubeconfigSecretRef.name is refused", kind: "ClusterPair",
		body: `spec: {kubeconfigSecretRef: {name: ""}}`,
		want: []cause{{"spec.kubeconfigSecretRef.name", "at least 1 chars long"}}},
	{name: "a ClusterPair without kubeconfigSecretRef is refused", kind: "ClusterPair",
		body: `spec: {options: {ip: 10.0.0.1}}`,
		want: []cause{{"spec.kubeconfigSecretRef", requiredPhrase}}},
	{name: "a ClusterPair without spec is refused", kind: "ClusterPair",
		body: `{}`,
		want: []cause{{"spec", requiredPhrase}}},
}

var migrationAcceptances = []acceptance{
	{name: "a Migration of one namespace is accepted", kind: "Migration",
		body: `spec: ` + migrationSpec},
	{name: "a Migration with every option set is accepted", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app, db], selectors: {app: shop}, includeResources: true,
  includeVolumes: false, startApplications: false, purgeDeletedResources: true, excludeResourceTypes: [Secret]}`},
	{name: "a Migration whose namespaces only namespaceSelectors choose is accepted, as in Stork", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaceSelectors: {team: shop}}`},
	{name: "a MigrationSchedule whose template chooses namespaces only by label is accepted", kind: "MigrationSchedule",
		body: `spec: {schedulePolicyName: testpolicy, template: {spec: {clusterPair: remotecluster, namespaceSelectors: {team: shop}}}}`},
	{name: "a Migration with Stork's selection fields is accepted", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app], namespaceSelectors: {team: shop}, excludeSelectors: {backup: skip},
  skipDeletedNamespaces: false, ignoreOwnerReferencesCheck: true}`},
	{name: "a MigrationSchedule whose template has Stork's selection fields is accepted", kind: "MigrationSchedule",
		body: `spec: {schedulePolicyName: testpolicy, template: {spec: {clusterPair: remotecluster, namespaces: [app],
  namespaceSelectors: {team: shop}, excludeSelectors: {backup: skip}, skipDeletedNamespaces: true, ignoreOwnerReferencesCheck: false}}}`},
	{name: "a Migration that maps a namespace to another name is accepted", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app, db], namespaceMapping: {app: app-dr}}`},
	{name: "a Migration that swaps the names of two namespaces is accepted", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [blue, green], namespaceMapping: {blue: green, green: blue}}`},
	{name: "a Migration that maps a namespace to its own name is accepted", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app], namespaceMapping: {app: app}}`},
	{name: "a MigrationSchedule whose template maps a namespace is accepted", kind: "MigrationSchedule",
		body: `spec: {schedulePolicyName: testpolicy, template: {spec: {clusterPair: remotecluster, namespaces: [app], namespaceMapping: {app: app-dr}}}}`},
	{name: "a MigrationSchedule that is suspended is accepted", kind: "MigrationSchedule",
		body: `spec: {schedulePolicyName: testpolicy, suspend: true, template: {spec: ` + migrationSpec + `}}`},
	{name: "a ClusterPair with a kubeconfig Secret is accepted", kind: "ClusterPair",
		body: `spec: {kubeconfigSecretRef: {name: remote-kubeconfig, key: config}}`},
}

func TestMigrationScheduleAdmission(t *testing.T) {
	runRefusals(t, migrationScheduleRefusals)
}

func TestMigrationAdmission(t *testing.T) {
	runRefusals(t, migrationRefusals)
}

func TestClusterPairAdmission(t *testing.T) {
	runRefusals(t, clusterPairRefusals)
}

func TestMigrationKindsAccepted(t *testing.T) {
	runAcceptances(t, migrationAcceptances)
}
