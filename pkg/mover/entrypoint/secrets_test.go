package entrypoint

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMaskerMasksEveryValueWhollyAndLeavesShortOnesAlone(t *testing.T) {
	m := NewMasker()
	m.Add("abcd1234", "cd12", "xxab", "no", "p<ss>&word", "rest:https://backup:rest-pass@example.com/repo", "line-one-value\nline-two-value\n")
	cases := []struct{ name, in, want string }{
		{"a value", "key abcd1234 end", "key *** end"},
		{"a value inside a longer one leaves nothing of the longer", "[abcd1234]", "[***]"},
		{"overlapping values become one mask", "xxabcd1234!", "***!"},
		{"the shorter value on its own", "cd12 and xxab", "*** and ***"},
		{"a value shorter than MinSecretLen is not masked", "no, not now", "no, not now"},
		{"a value as JSON escapes it", `{"msg":"p\u003css\u003e\u0026word"}`, `{"msg":"***"}`},
		{"a value URL-escaped", "pass=p%3Css%3E%26word", "pass=***"},
		{"the password of a URL on its own", "auth rest-pass refused", "auth *** refused"},
		{"the whole URL", "at rest:https://backup:rest-pass@example.com/repo", "at ***"},
		{"each line of a multi-line value", "got line-two-value", "got ***"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := m.Mask(c.in); got != c.want {
				t.Fatalf("Mask(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestSecretEnvValuesTakeEveryVariableThatIsNoSetting(t *testing.T) {
	environ := []string{
		"PATH=/usr/local/bin:/usr/bin", "HOSTNAME=restic-src-app-x7k2p", "HOME=/", "LC_ALL=C.UTF-8",
		"KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_PORT=tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP_PROTO=tcp",
		"MINIO_SERVICE_PORT_API=9000", "MINIO_PORT_9000_TCP_ADDR=fd00::12",
		"DATA_DIR=/data", "UNLOCK=1",
		"MINIO_PORT=tcp://[fd00::12]:9000", "MINIO_PORT_9000_TCP=tcp://10.0.0.7:9000",
		// From the Secret: names nobody could list in advance.
		"ZZ_TEAM_BUCKET_TOKEN=tok-7f3a9c", "LOOKS_LIKE_A_LINK_PORT=hunter22", "HEX_SERVICE_HOST=cafe1234", "restic_password=lower-case-key",
	}
	got := strings.Join(SecretEnvValues(environ, "DATA_DIR", "UNLOCK"), "|")
	if want := "tok-7f3a9c|hunter22|cafe1234|lower-case-key"; got != want {
		t.Fatalf("secret values %q, want %q", got, want)
	}
}

func TestConfigFileValuesAreEveryValueButTheBackendsName(t *testing.T) {
	conf := `# the team's remote
[s3]
type = s3
provider = Other
access_key_id = AKIAEXAMPLE
secret_access_key = wJalrXUtnFEMI/K7MDENG
force_path_style = true
[crypt]
type = crypt
remote = s3:bucket
password = "quoted-obscured-pw"
odd_custom_key=planted-config-value
`
	got := strings.Join(ConfigFileValues(conf, "type", "provider"), "|")
	want := `AKIAEXAMPLE|wJalrXUtnFEMI/K7MDENG|s3:bucket|"quoted-obscured-pw"|quoted-obscured-pw|planted-config-value`
	if got != want {
		t.Fatalf("config values %q, want %q", got, want)
	}
}

func TestSecretDirValuesReadEveryKeyFile(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "psk.txt"), []byte("volsync:00112233445566778899\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "source"), []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\nQyNTUxOQAAACBvbHN5bmMt\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600))
	must(os.Mkdir(filepath.Join(dir, "..2024_01_01"), 0o700))
	values, err := SecretDirValues(dir)
	must(err)
	m := NewMasker()
	m.Add(values...)
	out := m.Mask("key volsync:00112233445566778899 line b3BlbnNzaC1rZXktdjEAAAA -----BEGIN OPENSSH PRIVATE KEY-----")
	if want := "key *** line *** -----BEGIN OPENSSH PRIVATE KEY-----"; out != want {
		t.Fatalf("masked %q, want %q", out, want)
	}
}

func TestMaskWriterMasksAValueSplitAcrossWrites(t *testing.T) {
	AddSecrets("split-across-writes-7731")
	var out bytes.Buffer
	w := MaskWriter(&out)
	_, _ = w.Write([]byte("first split-acr"))
	_, _ = w.Write([]byte("oss-writes-7731 line\nlast split-across-writes-7731"))
	if strings.Contains(out.String(), "last") {
		t.Fatalf("an unterminated line was written before Close: %q", out.String())
	}
	_ = w.Close()
	if got, want := out.String(), "first *** line\nlast ***"; got != want {
		t.Fatalf("wrote %q, want %q", got, want)
	}
}

func TestTheLogAndTheSummaryNeverShowASecret(t *testing.T) {
	const planted = "planted-in-the-summary-5521"
	AddSecrets(planted)
	path := filepath.Join(t.TempDir(), "termination-log")
	t.Setenv("TERMINATION_LOG", path)
	var out bytes.Buffer
	log := NewLogger(&out, "test")
	w := log.LineWriter("tool")
	_, _ = w.Write([]byte("the tool says " + planted + "\n"))
	_ = w.Close()
	log.Printf("connecting with %s", planted)
	if code := Finish(log, Summary{}, errors.New("refused "+planted)); code != 1 {
		t.Fatalf("exit code %d", code)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for what, s := range map[string]string{"the log": out.String(), "the termination log": string(b)} {
		if strings.Contains(s, planted) || !strings.Contains(s, Masked) {
			t.Fatalf("%s shows the secret or no mask: %q", what, s)
		}
	}
}
