package admission

import "testing"

const ruleAction = `{type: command, value: sync}`

var ruleRefusals = []refusal{
	{name: "a Rule without rules is refused", kind: "Rule", body: `{}`,
		want: []cause{{"rules", requiredPhrase}}},
	{name: "a Rule with an empty list of rules is refused", kind: "Rule", body: `rules: []`,
		want: []cause{{"rules", "at least 1 items"}}},
	{name: "a rule without actions is refused", kind: "Rule", body: `rules: [{podSelector: {app: db}}]`,
		want: []cause{{"rules[0].actions", requiredPhrase}}},
	{name: "a rule with an empty list of actions is refused", kind: "Rule", body: `rules: [{podSelector: {app: db}, actions: []}]`,
		want: []cause{{"rules[0].actions", "at least 1 items"}}},
	{name: "a rule without podSelector is refused", kind: "Rule", body: `rules: [{actions: [` + ruleAction + `]}]`,
		want: []cause{{"rules[0].podSelector", requiredPhrase}}},
	{name: "a rule with an empty podSelector, which would choose every pod, is refused", kind: "Rule", body: `rules: [{podSelector: {}, actions: [` + ruleAction + `]}]`,
		want: []cause{{"rules[0].podSelector", "at least 1 properties"}}},
	{name: "an action of an unknown type is refused", kind: "Rule", body: `rules: [{podSelector: {app: db}, actions: [{type: http, value: "x"}]}]`,
		want: []cause{{"rules[0].actions[0].type", `supported values: "command"`}}},
	{name: "an action with an empty command is refused", kind: "Rule", body: `rules: [{podSelector: {app: db}, actions: [{type: command, value: ""}]}]`,
		want: []cause{{"rules[0].actions[0].value", "at least 1 chars long"}}},
	{name: "a background action without ${WAIT_CMD} is refused", kind: "Rule",
		body: `rules: [{podSelector: {app: db}, actions: [{type: command, value: "sleep 60", background: true}]}]`,
		want: []cause{{"rules[0].actions[0].value", "a background action must hold ${WAIT_CMD}"}}},
	{name: "a Migration with a preExecRule name longer than 253 characters is refused", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app], preExecRule: ` + longName + `}`,
		want: []cause{{"spec.preExecRule", "Too long"}}},
}

var ruleAcceptances = []acceptance{
	{name: "a rule with a command in every pod is accepted", kind: "Rule", body: `rules: [{podSelector: {app: db}, actions: [` + ruleAction + `]}]`},
	{name: "a background action with ${WAIT_CMD} in one pod is accepted", kind: "Rule",
		body: `rules: [{podSelector: {app: db}, container: db, actions: [{type: command, value: "flock /tmp/l -c ${WAIT_CMD}", background: true, runInSinglePod: true}]}]`},
	{name: "a Migration with a pre and a post exec rule is accepted", kind: "Migration",
		body: `spec: {clusterPair: remotecluster, namespaces: [app], preExecRule: quiesce, postExecRule: resume}`},
	{name: "a MigrationSchedule whose template has a pre and a post exec rule is accepted", kind: "MigrationSchedule",
		body: `spec: {schedulePolicyName: testpolicy, template: {spec: {clusterPair: remotecluster, namespaces: [app], preExecRule: quiesce, postExecRule: resume}}}`},
}

var longName = func() string {
	b := make([]byte, 254)
	for i := range b {
		b[i] = 'r'
	}
	return string(b)
}()

func TestRuleAdmission(t *testing.T) {
	runRefusals(t, ruleRefusals)
	runAcceptances(t, ruleAcceptances)
}
