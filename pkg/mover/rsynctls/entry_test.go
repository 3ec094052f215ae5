package rsynctls

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

func TestReadPSK(t *testing.T) {
	good := "volsync:" + strings.Repeat("0a", 32)
	cases := []struct {
		name, content, err string
	}{
		{"a key of 64 hex digits for the volsync identity is accepted", good + "\n", ""},
		{"another identity is refused", "other:" + strings.Repeat("0a", 32), "volsync:<64 hex digits>"},
		{"a short key is refused", "volsync:0a0a", "volsync:<64 hex digits>"},
		{"a key that is not hex is refused", "volsync:" + strings.Repeat("zz", 32), "volsync:<64 hex digits>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keys, work := t.TempDir(), t.TempDir()
			if err := os.WriteFile(filepath.Join(keys, pskFile), []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			path, err := readPSK(keys, work)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "0a0a") {
					t.Fatalf("err = %v: want one naming the form %q and not the key", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(path)
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Fatalf("the copy for stunnel must be owner-only: %v %v", info.Mode(), err)
			}
		})
	}
}

func TestTLSFailureNamesAWrongKey(t *testing.T) {
	for _, line := range []string{
		"LOG3[0]: SSL_connect: ssl/record/rec_layer_s3.c:1601: error:0A000417:SSL routines::sslv3 alert illegal parameter",
		"LOG3[1]: SSL_accept: error:0A0000FD:SSL routines::binder does not verify",
	} {
		if err := tlsFailure(line); err == nil || !strings.Contains(err.Error(), "pre-shared key") {
			t.Errorf("tlsFailure(%q) = %v, want the pre-shared key named", line, err)
		}
	}
	if err := tlsFailure("LOG5[0]: Connection closed: 10 byte(s) sent to TLS"); err != nil {
		t.Errorf("a closed connection is not a key problem: %v", err)
	}
}

type nopCloser struct{ strings.Builder }

func (n *nopCloser) Close() error { return nil }

func TestLockedLogCountsConnectionsAndHidesNotices(t *testing.T) {
	var out nopCloser
	l := &lockedLog{w: &out}
	_, _ = l.Write([]byte("2026.01.01 00:00:00 LOG5[0]: Service [volsync] accepted connection from 127.0.0.1:1\n2026.01.01 00:00:00 LOG3[0]: SSL_accept: boom\n"))
	if l.idle() {
		t.Fatal("idle with a connection open")
	}
	_, _ = l.Write([]byte("2026.01.01 00:00:01 LOG5[0]: Connection closed: 1 byte(s) sent to TLS\n"))
	if !l.idle() {
		t.Fatal("not idle after the connection closed")
	}
	if got := out.String(); strings.Contains(got, "LOG5") || !strings.Contains(got, "SSL_accept: boom") {
		t.Fatalf("passed on %q: want the errors and not the notices", got)
	}
}

// TestThePreSharedKeyNeverShowsInTheLog: the key Secret's psk.txt, whole or its key alone, is
// masked in what the entry point logs and in the relayed output of its tools.
func TestThePreSharedKeyNeverShowsInTheLog(t *testing.T) {
	key := strings.Repeat("7c", 32)
	keys := t.TempDir()
	if err := os.WriteFile(filepath.Join(keys, pskFile), []byte(pskIdentity+":"+key+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	entrypoint.LearnSecretDir(keys)
	if _, err := readPSK(keys, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	log := entrypoint.NewLogger(&out, "rsync-tls source")
	log.Printf("using %s:%s", pskIdentity, key)
	w := log.LineWriter("stunnel")
	_, _ = w.Write([]byte("PSK " + key[:40]))
	_, _ = w.Write([]byte(key[40:] + " loaded\n"))
	_ = w.Close()
	if strings.Contains(out.String(), key[8:40]) || strings.Count(out.String(), entrypoint.Masked) != 2 {
		t.Fatalf("the log shows the key:\n%s", out.String())
	}
}
