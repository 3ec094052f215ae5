package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestMigrationSpecFlagsNamespaceMapping(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		want    map[string]volsyncv1alpha1.NamespaceName
		wantErr string
	}{
		{"no mapping leaves the field unset", nil, nil, ""},
		{"one mapping renames one namespace", []string{"app=app-dr"},
			map[string]volsyncv1alpha1.NamespaceName{"app": "app-dr"}, ""},
		{"the flag repeats for more namespaces", []string{"app=app-dr", " db = db-dr "},
			map[string]volsyncv1alpha1.NamespaceName{"app": "app-dr", "db": "db-dr"}, ""},
		{"the same mapping given twice is one mapping", []string{"app=app-dr", "app=app-dr"},
			map[string]volsyncv1alpha1.NamespaceName{"app": "app-dr"}, ""},
		{"a value without = is refused", []string{"app"}, nil,
			`--namespace-mapping "app" is not SRC=DST: pass it as --namespace-mapping app=app-dr`},
		{"a value without a destination is refused", []string{"app="}, nil,
			`--namespace-mapping "app=" is not SRC=DST: pass it as --namespace-mapping app=app-dr`},
		{"one namespace mapped to two names is refused", []string{"app=a1", "app=a2"}, nil,
			`--namespace-mapping maps namespace "app" twice, to "a1" and to "a2": keep one of them`},
		{"a namespace not in --namespaces is refused", []string{"web=web-dr"}, nil,
			`--namespace-mapping: namespace "web" is mapped but not migrated; map only namespaces the migration migrates: fix --namespace-mapping or --namespaces`},
		{"a destination that is not a namespace name is refused", []string{"app=App_DR"}, nil,
			`--namespace-mapping: namespace "app" is mapped to "App_DR", which is not a namespace name`},
		{"two namespaces mapped to one are refused", []string{"app=dr", "db=dr"}, nil,
			`--namespace-mapping: namespaces "app" and "db" would both be migrated into namespace "dr"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := migrationSpecFlags{clusterPair: "remote", namespaces: []string{"app", "db"}, namespaceMapping: tt.values}
			spec, err := f.spec()
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(spec.NamespaceMapping, tt.want) {
				t.Errorf("namespaceMapping = %v, want %v", spec.NamespaceMapping, tt.want)
			}
		})
	}
}

func TestMigrationSpecFlagsExecRules(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		pre, post string
	}{
		{"no rule flags leave both fields empty", nil, "", ""},
		{"the dash-case flags set both rules", []string{"--pre-exec-rule", "lock", "--post-exec-rule", "unlock"}, "lock", "unlock"},
		{"storkctl's camelCase spellings set them too", []string{"--preExecRule=lock", "--postExecRule=unlock"}, "lock", "unlock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f migrationSpecFlags
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			f.add(fs)
			if err := fs.Parse(append([]string{"-c", "remote", "--namespaces", "app"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			spec, err := f.spec()
			if err != nil {
				t.Fatal(err)
			}
			if spec.PreExecRule != tc.pre || spec.PostExecRule != tc.post {
				t.Fatalf("preExecRule %q, postExecRule %q; want %q, %q", spec.PreExecRule, spec.PostExecRule, tc.pre, tc.post)
			}
			if fl := fs.Lookup("preExecRule"); fl == nil || !fl.Hidden {
				t.Fatal("--preExecRule is not a hidden alias")
			}
		})
	}
}
