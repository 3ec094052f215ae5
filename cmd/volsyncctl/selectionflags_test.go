package main

import (
	"context"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// create migration and create migrationschedule take storkctl's selection flags, and the manifest's
// camelCase field names as hidden spellings; what they say reaches the stored spec on a real API
// server, and a bad label is refused in the flag's own words before anything is created.
func TestCreateMigrationSelectionFlagsReachTheSpec(t *testing.T) {
	env, kubeconfig := startCluster(t)
	ctx := context.Background()
	const ns = "selection-cli"
	migrationFixtures(t, env.Client, ns, "remote")
	if err := env.Client.Create(ctx, &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "selection-hourly"},
		Policy: volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60}}}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) result {
		return executeAll(t, append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...)...)
	}

	if r := run("create", "migration", "picky", "-c", "remote", "--namespaces", "app",
		"--namespace-selectors", "tier=gold", "--selectors", "app=web", "--exclude-selectors", "backup=skip,cache=true",
		"--exclude-resource-types", "Secret", "--include-jobs", "--disable-skip-deleted-namespaces",
		"--ignore-owner-references-check", "--purge-deleted-resources", "--skip-service-update",
		"--include-network-policy-with-cidr", "--exclude-volumes", "-a"); r.errLine != "" {
		t.Fatal(r.errLine)
	}
	var m volsyncv1alpha1.Migration
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "picky"}, &m); err != nil {
		t.Fatal(err)
	}
	s := m.Spec
	if !reflect.DeepEqual(s.NamespaceSelectors, map[string]string{"tier": "gold"}) ||
		!reflect.DeepEqual(s.Selectors, map[string]string{"app": "web"}) ||
		!reflect.DeepEqual(s.ExcludeSelectors, map[string]string{"backup": "skip", "cache": "true"}) ||
		!reflect.DeepEqual(s.ExcludeResourceTypes, []string{"Secret"}) ||
		!reflect.DeepEqual(s.IncludeOptionalResourceTypes, []string{"Job"}) ||
		*s.SkipDeletedNamespaces || !*s.IgnoreOwnerReferencesCheck || !*s.PurgeDeletedResources ||
		!*s.SkipServiceUpdate || !*s.IncludeNetworkPolicyWithCIDR || *s.IncludeVolumes || !*s.IncludeResources || !*s.StartApplications {
		t.Fatalf("stored spec %+v", s)
	}

	// The manifest's spellings, and namespaces chosen by label alone.
	if r := run("create", "migrationschedule", "by-label", "-c", "remote", "-s", "selection-hourly",
		"--namespaceSelectors", "tier=gold", "--excludeSelectors", "backup=skip", "--skipServiceUpdate",
		"--includeOptionalResourceTypes", "Job"); r.errLine != "" {
		t.Fatal(r.errLine)
	}
	var sched volsyncv1alpha1.MigrationSchedule
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "by-label"}, &sched); err != nil {
		t.Fatal(err)
	}
	ts := sched.Spec.Template.Spec
	if len(ts.Namespaces) != 0 || !reflect.DeepEqual(ts.NamespaceSelectors, map[string]string{"tier": "gold"}) ||
		!reflect.DeepEqual(ts.ExcludeSelectors, map[string]string{"backup": "skip"}) || !*ts.SkipServiceUpdate ||
		!reflect.DeepEqual(ts.IncludeOptionalResourceTypes, []string{"Job"}) || !*ts.SkipDeletedNamespaces {
		t.Fatalf("stored template %+v", ts)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a label value with a space is refused in the flag's words",
			[]string{"--namespaces", "app", "--exclude-selectors", "backup=not valid"}, "--exclude-selectors: "},
		{"an optional kind that does not exist is refused",
			[]string{"--namespaces", "app", "--include-optional-resource-types", "CronJob"}, `"CronJob" is not an optional kind`},
		{"neither namespaces nor namespace selectors is refused",
			nil, "no namespaces given: pass --namespaces a,b with the namespaces to migrate, or --namespace-selectors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(append([]string{"create", "migration", "refused", "-c", "remote"}, tc.args...)...)
			if !strings.Contains(r.errLine, tc.want) {
				t.Fatalf("error %q, want it to say %q", r.errLine, tc.want)
			}
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "refused"}, &volsyncv1alpha1.Migration{}); err == nil {
				t.Error("a refused command created the Migration")
			}
		})
	}
}
