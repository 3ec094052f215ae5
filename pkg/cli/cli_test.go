package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestOutputFormat(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     OutputFormat
		wantErr  bool
	}{
		{"table is the default spelling", "table", OutputTable, false},
		{"yaml in any case is accepted", "YAML", OutputYAML, false},
		{"json is accepted", "json", OutputJSON, false},
		{"wide is the table, with more columns", "wide", OutputTable, false},
		{"xml is refused with the accepted list", "xml", "", true},
		{"empty is refused", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := GlobalOptions{Output: tc.in}
			got, err := o.OutputFormat()
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("OutputFormat(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "use table, wide, yaml or json") {
				t.Errorf("error %q does not say what to use", err)
			}
		})
	}
}

func TestPrintError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"a plain error is prefixed", errors.New("boom"), "error: boom\n"},
		{"a multi-line error is folded onto one line", errors.New("first\nsecond\n"), "error: first; second;\n"},
		{"a hint follows the error", Hint(errors.New("no kubeconfig found"), "pass --kubeconfig"),
			"error: no kubeconfig found: pass --kubeconfig\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			PrintError(&b, tc.err)
			if b.String() != tc.want {
				t.Fatalf("PrintError wrote %q, want %q", b.String(), tc.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	gr := schema.GroupResource{Group: "volsync.backube", Resource: "schedulepolicies"}
	for _, tc := range []struct {
		name     string
		err      error
		wantHint string // empty: the error passes through unchanged
	}{
		{"a kind the cluster does not know asks for the CRDs",
			&meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "volsync.backube", Kind: "SchedulePolicy"}},
			"kubectl apply -k specs"},
		{"a missing collection asks for the CRDs", apierrors.NewNotFound(gr, ""), "kubectl apply -k specs"},
		{"a missing object passes through", apierrors.NewNotFound(gr, "nightly"), ""},
		{"forbidden asks for RBAC", apierrors.NewForbidden(gr, "nightly", errors.New("no")), "RBAC"},
		{"unauthorized asks to log in", apierrors.NewUnauthorized("expired"), "log in again"},
		{"connection refused names the server", fmt.Errorf("get: %w", syscall.ECONNREFUSED), "https://example:6443"},
		{"anything else passes through", errors.New("conflict"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Explain(tc.err, "https://example:6443")
			if !errors.Is(got, tc.err) {
				t.Errorf("Explain lost the original error: %v", got)
			}
			if tc.wantHint == "" {
				if got.Error() != tc.err.Error() {
					t.Errorf("Explain changed %q into %q", tc.err, got)
				}
				return
			}
			if !strings.Contains(got.Error(), tc.wantHint) {
				t.Errorf("Explain(%q) = %q, want it to mention %q", tc.err, got, tc.wantHint)
			}
		})
	}
}

func TestTableWrite(t *testing.T) {
	tbl := Table{Headers: []string{"NAME", "INTERVAL-MINUTES", "DAILY"}}
	tbl.AddRow("testpolicy", "1", "10:14PM")
	tbl.AddRow("nightly", "", "2:30AM")
	var b bytes.Buffer
	if err := tbl.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"NAME         INTERVAL-MINUTES   DAILY\n" +
		"testpolicy   1                  10:14PM\n" +
		"nightly                         2:30AM\n"
	if b.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPrintObjectFillsInKinds(t *testing.T) {
	scheme, err := volsyncscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	list := &volsyncv1alpha1.SchedulePolicyList{Items: []volsyncv1alpha1.SchedulePolicy{{
		ObjectMeta: metav1.ObjectMeta{Name: "testpolicy"},
		Policy:     volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 1}},
	}}}
	var b bytes.Buffer
	if err := PrintObject(&b, OutputYAML, scheme, list, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"apiVersion: volsync.backube/v1alpha1\nitems:",
		"kind: SchedulePolicyList",
		"- apiVersion: volsync.backube/v1alpha1\n  kind: SchedulePolicy\n",
		"intervalMinutes: 1",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("YAML lacks %q:\n%s", want, b.String())
		}
	}
}

func TestTargetNamespace(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts:
- {name: plain, context: {cluster: c, user: u}}
- {name: team, context: {cluster: c, user: u, namespace: team-a}}
current-context: team
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, context, flag, want string
	}{
		{"the current context's namespace is used", "", "", "team-a"},
		{"--namespace wins over the context", "", "other", "other"},
		{"a context without a namespace means default", "plain", "", "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := GlobalOptions{Kubeconfig: kubeconfig, Context: tc.context, Namespace: tc.flag}
			if got := o.TargetNamespace(); got != tc.want {
				t.Fatalf("TargetNamespace() = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("an unknown --context says how to list contexts", func(t *testing.T) {
		o := GlobalOptions{Kubeconfig: kubeconfig, Context: "nope"}
		_, err := o.RESTConfig()
		if err == nil || !strings.Contains(err.Error(), "kubectl config get-contexts") {
			t.Fatalf("RESTConfig() error = %v", err)
		}
	})
}

func TestDescribeMigrationCountsByKindAndSaysWhatIsNotListed(t *testing.T) {
	m := &volsyncv1alpha1.Migration{Status: volsyncv1alpha1.MigrationStatus{
		ResourceCounts: []volsyncv1alpha1.MigrationResourceCount{
			{Kind: "ConfigMap", Status: volsyncv1alpha1.RunStatusSuccessful, Count: 19999},
			{Group: "apps", Kind: "Deployment", Status: volsyncv1alpha1.RunStatusSuccessful, Count: 2},
			{Kind: "ConfigMap", Status: volsyncv1alpha1.RunStatusFailed, Count: 1},
		},
		Resources: []volsyncv1alpha1.MigrationResourceInfo{{Version: "v1", Kind: "ConfigMap", Namespace: "big", Name: "huge",
			Status: volsyncv1alpha1.RunStatusFailed, Reason: "the destination refused it: too large"}},
		ResourcesNotListed: 20001,
	}}
	var out bytes.Buffer
	if err := DescribeMigration(m, nil, time.Now()).Print(&out, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ConfigMap: 19999 Successful, 1 Failed", "Deployment.apps: 2 Successful",
		"20001 objects are counted above but not listed", "ConfigMap big/huge: Failed the destination refused it"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("describe lacks %q:\n%s", want, out.String())
		}
	}
}
