package cli

import (
	"strings"
	"testing"
)

func TestSeedConfigParsing(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"the manual's example is read as it is",
			"dest-access-mode: ReadWriteOnce\ndest-copy-method: Snapshot\ndest-namespace: dest\nsource-namespace: source\nsource-pvc: mysql-pv-claim\nsource-copy-method: Snapshot\n", ""},
		{"a cluster name with a port stays a string", "source-kube-clustername: api-source-com:6443\n", ""},
		{"a number is a value", "dest-port: 2222\n", ""},
		{"a misspelt key suggests the right one", "source-pcv: db\n", `unknown key "source-pcv" (did you mean "source-pvc"?)`},
		{"a key nothing resembles is only named", "colour: blue\n", `unknown key "colour"`},
		{"a list is not a value", "dest-access-mode: [ReadWriteOnce]\n", `key "dest-access-mode": the value must be a string or a number, not []interface {}`},
		{"not YAML", "source-pvc: [\n", "not YAML key: value pairs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSeedConfig([]byte(tc.text))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSeedOptionsChecks(t *testing.T) {
	for _, tc := range []struct {
		name       string
		values     map[string]string
		fromFlag   bool
		want       string
		sourceCron string
	}{
		{"the defaults of the manual", map[string]string{"source-pvc": "db"}, false, "", DefaultSourceCronSpec},
		{"an empty source-cron-spec syncs continuously", map[string]string{"source-cron-spec": ""}, false, "", ""},
		{"None is the legacy Direct", map[string]string{"dest-copy-method": "none"}, false, "", DefaultSourceCronSpec},
		{"a destination cannot clone", map[string]string{"dest-copy-method": "Clone"}, false,
			`dest-copy-method in config.yaml: "Clone" is not a copy method of a destination: use None or Snapshot`, ""},
		{"a flag is named as a flag", map[string]string{"source-copy-method": "Copy"}, true,
			`--source-copy-method: "Copy" is not a copy method: use None, Clone or Snapshot`, ""},
		{"access modes are checked", map[string]string{"dest-access-mode": "ReadWriteSometimes"}, false,
			`dest-access-mode in config.yaml: "ReadWriteSometimes" is not an access mode: use ReadWriteOnce, ReadOnlyMany or ReadWriteMany`, ""},
		{"a capacity must be a size", map[string]string{"dest-capacity": "big"}, false,
			`dest-capacity in config.yaml: "big" is not a size: use a quantity such as 2Gi`, ""},
		{"a port must be a port", map[string]string{"dest-port": "70000"}, false,
			`dest-port in config.yaml: "70000" is not a port: use a number from 1 to 65535`, ""},
		{"a service type must be ClusterIP or LoadBalancer", map[string]string{"dest-service-type": "NodePort"}, false,
			`dest-service-type in config.yaml: "NodePort" is not a service type: use ClusterIP or LoadBalancer`, ""},
		{"a namespace must be a name", map[string]string{"dest-namespace": "Dest_NS"}, false,
			`dest-namespace in config.yaml: "Dest_NS" is not a namespace name: use lower case letters, digits and '-'`, ""},
		{"external providers are refused", map[string]string{"dest-provider": "example.com/mirror"}, false,
			`dest-provider in config.yaml: external providers are not supported: this workflow replicates with rsync; remove the key`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := map[string]bool{}
			for k := range tc.values {
				from[k] = tc.fromFlag
			}
			s, err := NewSeedReplication(tc.values, "config.yaml", from)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("error %v\nwant  %s", err, tc.want)
			case tc.want == "" && s.SourceCronSpec != tc.sourceCron:
				t.Fatalf("source cron %q, want %q", s.SourceCronSpec, tc.sourceCron)
			}
		})
	}
}

func FuzzSeedConfig(f *testing.F) {
	f.Add([]byte("source-pvc: db\ndest-port: 22\n"))
	f.Add([]byte("source-kube-clustername: api-source-com:6443\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		values, err := parseSeedConfig(data)
		if err != nil {
			return
		}
		_, _ = NewSeedReplication(values, "config.yaml", nil)
	})
}
