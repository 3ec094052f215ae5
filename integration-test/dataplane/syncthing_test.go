package dataplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover/syncthing"

	"github.com/volsync/volsync/integration-test/testenv"
)

// The syncthing mover with real Syncthing on loopback: volsync-mover syncthing source starts it
// with the API certificate volsync generates, and syncthing.Configure (what volsyncd runs on every
// pass) peers the devices. The volumes must converge, by checksum, both ways and through an
// introducer.

// stPeer is one running Syncthing device.
type stPeer struct {
	name     string
	data     string
	dataPort int
	api      *syncthing.Client
	id       string
	peers    []volsyncv1alpha1.SyncthingPeer
	proc     *moverProc
}

func (p *stPeer) address() string { return fmt.Sprintf("tcp://127.0.0.1:%d", p.dataPort) }

func startSyncthing(t *testing.T, name string) *stPeer {
	t.Helper()
	secret, err := syncthing.GenerateAPISecret("volsync-"+name+"-api.test.svc", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certs := tempDir(t, asRoot, "st-certs-"+name)
	for file, key := range map[string]string{"https-cert.pem": syncthing.SecretCert, "https-key.pem": syncthing.SecretKey} {
		if err := os.WriteFile(filepath.Join(certs, file), secret[key], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := &stPeer{name: name, data: tempDir(t, asRoot, "st-data-"+name), dataPort: freePort(t)}
	apiPort := freePort(t)
	p.proc = startMover(t, asRoot, "syncthing", "source", map[string]string{
		syncthing.EnvConfigDir:  tempDir(t, asRoot, "st-home-"+name),
		syncthing.EnvCertDir:    certs,
		syncthing.EnvAPIKey:     string(secret[syncthing.SecretAPIKey]),
		syncthing.EnvGUIAddress: fmt.Sprintf("https://127.0.0.1:%d", apiPort),
		syncthing.EnvBinary:     filepath.Join(testenv.MoverTools(t), "syncthing"),
	})
	p.api, err = syncthing.NewClient(fmt.Sprintf("https://127.0.0.1:%d", apiPort), string(secret[syncthing.SecretAPIKey]),
		secret[syncthing.SecretCert], "localhost")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p.id, err = p.api.MyID(ctx)
		cancel()
		if err == nil {
			return p
		}
		select {
		case <-p.proc.done:
			t.Fatalf("syncthing %s exited with %d:\n%s", name, p.proc.exitCode, p.proc.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("syncthing %s's API did not answer within a minute: %v\n%s", name, err, p.proc.out.String())
		}
		time.Sleep(200 * time.Millisecond) // polling the API until it answers, not waiting for a state
	}
}

// configure runs one pass of what volsyncd does for each device and returns their states.
func configure(t *testing.T, peers ...*stPeer) map[string]*syncthing.State {
	t.Helper()
	out := map[string]*syncthing.State{}
	for _, p := range peers {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		st, err := syncthing.Configure(ctx, p.api, syncthing.Desired{
			Peers: p.peers, DataDir: p.data, ListenAddress: p.address(), GUIUser: "syncthing", GUIPassword: "secret",
		})
		cancel()
		if err != nil {
			t.Fatalf("configuring %s: %v", p.name, err)
		}
		out[p.name] = st
	}
	return out
}

// stContent is the content of a synced tree: path to kind and checksum, without Syncthing's own
// marker and the root's metadata.
func stContent(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // Syncthing renamed or removed it while the walk ran
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		// Syncthing's own files: .stfolder and .stignore at the top, .syncthing.*.tmp while a
		// file is being pulled.
		if strings.HasPrefix(d.Name(), ".st") || strings.HasPrefix(d.Name(), ".syncthing.") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		sum := ""
		if d.Type().IsRegular() {
			b, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			} else if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			sum = hex.EncodeToString(h[:])
		}
		out[rel] = fmt.Sprintf("%s:%s:%o", d.Type().String(), sum, info.Mode().Perm())
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", root, err)
	}
	return out
}

// converge runs volsyncd's pass on every device until every volume holds want, and returns the
// last states.
func converge(t *testing.T, want map[string]string, peers ...*stPeer) map[string]*syncthing.State {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		states := configure(t, peers...)
		var behind []string
		for _, p := range peers {
			if got := stContent(t, p.data); fmt.Sprint(got) != fmt.Sprint(want) {
				behind = append(behind, fmt.Sprintf("%s (%d of %d entries)", p.name, len(got), len(want)))
			}
		}
		if len(behind) == 0 {
			return states
		}
		if time.Now().After(deadline) {
			for _, p := range peers {
				t.Logf("%s:\n%s", p.name, p.proc.out.String())
			}
			t.Fatalf("not converged after 3 minutes: %v; states %+v", behind, states)
		}
		time.Sleep(time.Second) // the next pass, as volsyncd's poll
	}
}

func TestSyncthingTwoPeersConvergeBothWays(t *testing.T) {
	a, b := startSyncthing(t, "a"), startSyncthing(t, "b")
	a.peers = []volsyncv1alpha1.SyncthingPeer{{ID: b.id, Address: b.address()}}
	// b names a without dashes and in lower case, as a hand-written spec might.
	b.peers = []volsyncv1alpha1.SyncthingPeer{{ID: strings.ToLower(strings.ReplaceAll(a.id, "-", "")), Address: a.address()}}
	makeTree(t, a.data, treeSpec{SmallFiles: 300, SmallSize: 4096, LargeFiles: 2, LargeSize: 8 << 20, Seed: 7})

	states := converge(t, stContent(t, a.data), a, b)
	if st := states["a"]; len(st.Peers) != 1 || st.Peers[0].ID != b.id || !st.Peers[0].Connected {
		t.Errorf("a's status peers = %+v, want b connected", st.Peers)
	}

	// A change on b comes back to a: the volume is shared both ways.
	if err := os.WriteFile(filepath.Join(b.data, "from-b.txt"), []byte("written on b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(b.data, "large-0")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	converge(t, stContent(t, b.data), a, b)

	// A second pass with nothing to change writes nothing: the configuration is left as it is.
	before, err := a.api.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	configure(t, a)
	after, err := a.api.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("an idle pass changed the configuration:\n%+v\n%+v", before, after)
	}
}

func TestSyncthingThreePeersThroughAnIntroducer(t *testing.T) {
	hub, b, c := startSyncthing(t, "hub"), startSyncthing(t, "b"), startSyncthing(t, "c")
	// b and c know only the hub, their introducer; it brings them together.
	hub.peers = []volsyncv1alpha1.SyncthingPeer{{ID: b.id, Address: b.address()}, {ID: c.id, Address: c.address()}}
	b.peers = []volsyncv1alpha1.SyncthingPeer{{ID: hub.id, Address: hub.address(), Introducer: true}}
	c.peers = []volsyncv1alpha1.SyncthingPeer{{ID: hub.id, Address: hub.address(), Introducer: true}}
	makeTree(t, b.data, treeSpec{SmallFiles: 200, SmallSize: 2048, LargeFiles: 1, LargeSize: 4 << 20, Seed: 11})

	converge(t, stContent(t, b.data), hub, b, c)
	// Introduced devices connect and stay on later passes: the pass keeps what an introducer brought.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		states := configure(t, hub, b, c)
		st := states["c"]
		var introduced *volsyncv1alpha1.SyncthingPeerStatus
		for i := range st.Peers {
			if st.Peers[i].ID == b.id {
				introduced = &st.Peers[i]
			}
		}
		if introduced != nil && introduced.IntroducedBy == hub.id && introduced.Connected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("c's status never showed b, introduced by the hub, connected: %+v", st.Peers)
		}
		time.Sleep(time.Second)
	}

	// Listing the device itself is a clear error, and changes nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := syncthing.Configure(ctx, b.api, syncthing.Desired{
		Peers: []volsyncv1alpha1.SyncthingPeer{{ID: b.id, Address: b.address()}}, DataDir: b.data, ListenAddress: b.address(),
		GUIUser: "syncthing", GUIPassword: "secret",
	})
	if err == nil || !strings.Contains(err.Error(), "lists this device itself") {
		t.Errorf("listing itself as a peer: %v", err)
	}
}
