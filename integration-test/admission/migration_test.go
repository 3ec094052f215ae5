package admission

import (
	"strings"
	"testing"
)

// migrationSpec is a valid Migration spec in flow YAML, for bodies that change one thing.
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
		want: []cause{{"spec.template.spec.namespaces", requiredPhrase}}},
	{name: "a MigrationSchedule whose template has an empty clusterPair is refused", kind: "MigrationSchedule",
		body: `spec: {schedulePolicyName: testpolicy, template: {spec: {clusterPair: "", namespaces: [app]}}}`,
		want: []cause{{"spec.template.spec.clusterPair", "at least 1 chars long"}}},
	{name: "a MigrationSchedule with suspend of \"yes\" is refused", kind: "MigrationSchedule",
		body: `spec: {schedulePolicyName: testpolicy, suspend: "yes", template: {spec: ` + migrationSpec + `}}`,
		want: []cause{{"spec.suspend", "must be of type boolean"}}},
}

var migrationRefusals = []refusal{
	{name: "a Migration with no namespaces is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster}`,
		want: []cause{{"spec.namespaces", requiredPhrase}}},
	{name: "a Migration with an empty list of namespaces is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: []}`,
		want: []cause{{"spec.namespaces", "should have at least 1 items"}}},
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
