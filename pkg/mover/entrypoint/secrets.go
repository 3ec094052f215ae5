package entrypoint

import (
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Secrets never leave the mover: every value of the mover's Secret, whatever the variable or the
// file that holds it is called, is replaced by Masked in everything the entry points log (Logger,
// its LineWriter and MaskWriter, which relay the tools' output too) and in the summary they write
// to the termination log (WriteSummaryTo), from which the controller fills latestMoverStatus.logs
// and its Events.
//
// How an entry point learns the values: the Job hands the mover its Secret in two ways.
//   - Files mounted from a Secret (rclone.conf, the ssh keys, the pre-shared key): the entry point
//     reads them (SecretFileValues, SecretDirValues; rclone adds each value of its config file).
//   - Environment variables from a Secret (restic's repository Secret comes whole, through
//     envFrom, so its keys can be anything): SecretEnvValues takes every variable that is neither
//     one of the mover's own settings, which the controller sets by name (and which win over
//     envFrom), nor one the container runtime or the kubelet sets. Everything else in a mover's
//     environment can only have come from the Secret.

// Masked replaces a secret value.
const Masked = "***"

// MinSecretLen is the shortest value that is masked. Shorter values are not: masking "1", "no" or
// "s3" would blank out ordinary words and digits all over the logs (and so hide what a person
// needs to read), and a value that short is no secret worth the name.
const MinSecretLen = 4

// Masker replaces every occurrence of every secret value it was given. It is safe for concurrent
// use.
type Masker struct {
	mu     sync.RWMutex
	values []string // longest first, no duplicates
}

// NewMasker returns a Masker that knows no secret yet.
func NewMasker() *Masker { return &Masker{} }

// Secrets is the process's masker: Logger, MaskWriter and WriteSummaryTo mask with it.
var Secrets = NewMasker()

// AddSecrets adds values to the process's masker.
func AddSecrets(values ...string) { Secrets.Add(values...) }

// Mask masks s with the process's masker.
func Mask(s string) string { return Secrets.Mask(s) }

// Add learns values. Each value is also learned in the forms in which a tool may print it: each of
// its lines (a multi-line value seldom shows whole), JSON-escaped (rclone and restic log JSON) and
// URL-escaped, and the password of a URL's user information (a REST or S3 address may carry one,
// and the tools print addresses without it but not always without the password). Values shorter
// than MinSecretLen are left out.
func (m *Masker) Add(values ...string) {
	var add []string
	for _, v := range values {
		add = append(add, variants(v)...)
	}
	if len(add) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := make(map[string]bool, len(m.values)+len(add))
	all := make([]string, 0, len(m.values)+len(add))
	for _, v := range append(m.values, add...) {
		if len(v) >= MinSecretLen && !seen[v] {
			seen[v] = true
			all = append(all, v)
		}
	}
	// Longest first, so that a value contained in another never leaves the rest of the longer
	// one showing (Mask also merges overlapping matches, so the order is only a tie-break).
	sort.SliceStable(all, func(i, j int) bool {
		if len(all[i]) != len(all[j]) {
			return len(all[i]) > len(all[j])
		}
		return all[i] < all[j]
	})
	m.values = all
}

// Len is the number of values (forms included) the masker knows.
func (m *Masker) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.values)
}

// Mask returns s with every occurrence of every known value replaced by Masked. Overlapping or
// adjacent occurrences of different values become one Masked, so that no part of any of them
// shows.
func (m *Masker) Mask(s string) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.values) == 0 || len(s) < MinSecretLen {
		return s
	}
	type span struct{ from, to int }
	var spans []span
	for _, v := range m.values {
		for at := 0; at <= len(s)-len(v); {
			i := strings.Index(s[at:], v)
			if i < 0 {
				break
			}
			spans = append(spans, span{at + i, at + i + len(v)})
			at += i + 1
		}
	}
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for i := 0; i < len(spans); {
		from, to := spans[i].from, spans[i].to
		for i++; i < len(spans) && spans[i].from <= to; i++ {
			if spans[i].to > to {
				to = spans[i].to
			}
		}
		b.WriteString(s[last:from])
		b.WriteString(Masked)
		last = to
	}
	b.WriteString(s[last:])
	return b.String()
}

// variants are the forms of v that Add learns.
func variants(v string) []string {
	v = strings.TrimRight(v, "\r\n")
	if len(strings.TrimSpace(v)) < MinSecretLen {
		return nil
	}
	out := []string{v}
	if t := strings.TrimSpace(v); t != v {
		out = append(out, t)
	}
	if strings.ContainsAny(v, "\r\n") {
		for _, line := range strings.Split(v, "\n") {
			if line = strings.TrimSpace(line); len(line) >= MinSecretLen {
				out = append(out, variants(line)...)
			}
		}
		return out
	}
	for _, f := range []string{jsonEscaped(v, true), jsonEscaped(v, false), url.QueryEscape(v), url.PathEscape(v)} {
		if f != v {
			out = append(out, f)
		}
	}
	if p := urlPassword(v); p != "" && p != v {
		out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
	}
	return out
}

// jsonEscaped is v as it shows inside a JSON string.
func jsonEscaped(v string, escapeHTML bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if enc.Encode(v) != nil {
		return v
	}
	s := strings.TrimSuffix(b.String(), "\n")
	return strings.TrimSuffix(strings.TrimPrefix(s, `"`), `"`)
}

// urlPassword is the password of the URL in v, such as restic's rest:https://user:pass@host/,
// or "".
func urlPassword(v string) string {
	i := strings.Index(v, "://")
	if i <= 0 {
		return ""
	}
	start := strings.LastIndexAny(v[:i], ": \t\"'=") + 1
	u, err := url.Parse(v[start:])
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// runtimeEnv are variables that the container runtime, the kubelet or the image set in every
// mover container; their values are never the Secret's.
var runtimeEnv = map[string]bool{
	"PATH": true, "HOME": true, "HOSTNAME": true, "TERM": true, "PWD": true, "OLDPWD": true, "SHLVL": true,
	"USER": true, "LOGNAME": true, "SHELL": true, "LANG": true, "LANGUAGE": true, "TZ": true, "TMPDIR": true,
	"_": true,
}

// serviceLinkName and serviceLinkValue match the variables the kubelet sets for each Service of
// the namespace (enableServiceLinks): FOO_SERVICE_HOST=10.0.0.1, FOO_PORT=tcp://10.0.0.1:80,
// FOO_PORT_80_TCP_PROTO=tcp and so on. Both must match: a Secret key that merely looks like one,
// with a value that does not, is still masked.
var (
	serviceLinkName  = regexp.MustCompile(`^[A-Z0-9_]+_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_[0-9]+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)?)$`)
	serviceLinkValue = regexp.MustCompile(`^([0-9]{1,5}|tcp|udp|sctp|((tcp|udp|sctp)://)?([0-9]{1,3}(\.[0-9]{1,3}){3}|\[?[0-9a-fA-F]*:[0-9a-fA-F:]*\]?)(:[0-9]{1,5})?)$`)
)

// SecretEnvValues returns the values of the variables in environ (NAME=value, as os.Environ
// gives them) that came from the mover's Secret: all those that are not named in settings (the
// variables the controller sets for the mover by name, and the entry point's own knobs) nor set
// by the container runtime or the kubelet.
func SecretEnvValues(environ []string, settings ...string) []string {
	own := make(map[string]bool, len(settings))
	for _, s := range settings {
		own[s] = true
	}
	var out []string
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || own[name] || runtimeEnv[name] || strings.HasPrefix(name, "LC_") {
			continue
		}
		if serviceLinkName.MatchString(name) && serviceLinkValue.MatchString(value) {
			continue
		}
		out = append(out, value)
	}
	return out
}

// SecretFileValues reads a file mounted from a Secret and returns its content (Add also learns
// each of its lines). PEM armour lines ("-----BEGIN ... KEY-----") are no secret and are left
// out, so that a tool that names a key's type still reads well.
func SecretFileValues(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "-----") {
			continue
		}
		out = append(out, line)
	}
	if s := strings.TrimSpace(string(b)); !strings.HasPrefix(s, "-----") {
		out = append(out, s)
	}
	return out, nil
}

// SecretDirValues reads every file of a directory mounted from a Secret (the Secret's keys are
// its file names; Kubernetes' own ..data entries are skipped).
func SecretDirValues(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		vs, err := SecretFileValues(path)
		if err != nil {
			return out, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

// LearnSecretDir adds every value of the Secret mounted at dir (SecretDirValues) to the process's
// masker. A directory that cannot be read is left to the code that reads the keys to report.
func LearnSecretDir(dir string) {
	values, _ := SecretDirValues(dir)
	AddSecrets(values...)
}

// ConfigFileValues returns the values of an INI-style config file mounted from a Secret, such as
// rclone.conf: the value of every "key = value" line. Section headers and comments are skipped, and
// so are the values of the keys in plain (rclone's "type": the backend's name) and the boolean
// words, which are no secret and would otherwise mask every "true" in the logs.
func ConfigFileValues(text string, plain ...string) []string {
	skip := make(map[string]bool, len(plain))
	for _, k := range plain {
		skip[strings.ToLower(k)] = true
	}
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "[") || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key, value = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(value)
		if skip[key] {
			continue
		}
		switch strings.ToLower(value) {
		case "true", "false", "yes", "no", "on", "off":
			continue
		}
		out = append(out, value)
		// A quoted value may show without its quotes.
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			out = append(out, value[1:len(value)-1])
		}
	}
	return out
}

// MaskWriter returns a writer that copies to w line by line, every line masked with the process's
// masker (a value split across two writes is still masked). Close writes a last unterminated
// line.
func MaskWriter(w io.Writer) io.WriteCloser { return &maskWriter{out: w, m: Secrets} }

type maskWriter struct {
	mu  sync.Mutex
	out io.Writer
	m   *Masker
	buf []byte
}

func (w *maskWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	i := strings.LastIndexByte(string(w.buf), '\n')
	if i < 0 {
		return len(p), nil
	}
	if _, err := io.WriteString(w.out, w.maskLines(string(w.buf[:i+1]))); err != nil {
		return 0, err
	}
	w.buf = append(w.buf[:0], w.buf[i+1:]...)
	return len(p), nil
}

// maskLines masks each line of s on its own, so that a line-based value never spans two lines.
func (w *maskWriter) maskLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		lines[i] = w.m.Mask(l)
		Notable.Observe(lines[i])
	}
	return strings.Join(lines, "")
}

func (w *maskWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return nil
	}
	_, err := io.WriteString(w.out, w.m.Mask(string(w.buf)))
	w.buf = nil
	return err
}
