package remote

import (
	"testing"
)

// FuzzRESTConfig: any text in a kubeconfig Secret is parsed without a panic, and whatever is
// accepted has no plugin and reads no file.
func FuzzRESTConfig(f *testing.F) {
	f.Add(kubeconfig("https://dr.example:6443", "{token: abc}"))
	f.Add(kubeconfig("https://dr.example:6443", "{exec: {command: sh}}"))
	f.Add(kubeconfig("https://dr.example:6443", "{tokenFile: /etc/passwd}"))
	f.Add("apiVersion: v1\nkind: Config\n")
	f.Add("{{{")
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := RESTConfig([]byte(text))
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if cfg.ExecProvider != nil || cfg.AuthProvider != nil || cfg.BearerTokenFile != "" ||
			cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "" {
			t.Fatalf("accepted a kubeconfig that runs a plugin or reads a file: %+v", cfg)
		}
	})
}
