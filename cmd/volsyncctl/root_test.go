package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/volsync/volsync/pkg/cli"
)

// execute runs volsyncctl with args and returns stdout and the one-line error it would print.
func execute(t *testing.T, asPlugin bool, args ...string) (string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut, asPlugin)
	a.root.SetArgs(args)
	var errLine bytes.Buffer
	if err := a.root.Execute(); err != nil {
		cli.PrintError(&errLine, err)
	}
	return out.String(), errLine.String()
}

func TestRootCommand(t *testing.T) {
	for _, tc := range []struct {
		name     string
		plugin   bool
		args     []string
		wantOut  string
		wantErr  string // "" means success
		noOutput bool
	}{
		{"no arguments prints help", false, nil, "Available Commands:", "", false},
		{"help names the kubectl plugin", false, []string{"--help"}, "kubectl-volsync", "", false},
		{"as the plugin, usage says kubectl volsync", true, []string{"--help"}, "kubectl volsync [command]", "", false},
		{"an unknown command is one line with a suggestion", false, []string{"verison"},
			"", `error: unknown command "verison" for "volsyncctl" (did you mean "version"?): run 'volsyncctl --help' for the list of commands` + "\n", true},
		{"an unknown flag is one line pointing at help", false, []string{"version", "--bogus"},
			"", "error: unknown flag: --bogus: see 'volsyncctl version --help'\n", true},
		{"a bad --output is one line listing the formats", false, []string{"version", "--client", "-o", "xml"},
			"", "error: --output \"xml\" is not supported: use table, wide, yaml or json\n", true},
		{"completion scripts are built in", false, []string{"completion", "bash"}, "bash completion", "", false},
		{"version --client needs no cluster", false, []string{"version", "--client"}, "Client Version: ", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errLine := execute(t, tc.plugin, tc.args...)
			if errLine != tc.wantErr {
				t.Fatalf("error line = %q, want %q", errLine, tc.wantErr)
			}
			if tc.noOutput && out != "" {
				t.Errorf("a failure also printed %q; usage must not be dumped on errors", out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
}

func TestVersionNeverFailsWithoutACluster(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	out, errLine := execute(t, false, "version", "-o", "json")
	if errLine != "" {
		t.Fatalf("version failed: %s", errLine)
	}
	var r versionReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("version -o json printed %q: %v", out, err)
	}
	if r.ClientVersion.Version == "" || r.ServerVersion != "" || !strings.Contains(r.ServerError, "no kubeconfig found") {
		t.Fatalf("report = %+v, want a client version and a server error naming the missing kubeconfig", r)
	}
}
