package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// syncthingSumScript lists every file's checksum, leaving out Syncthing's own .stfolder and
// .stversions (each device keeps its own).
const syncthingSumScript = `cd /data
find . -path './.st*' -prune -o -path ./lost+found -prune -o -type f -print | sort | while read -r p; do sha256sum "$p"; done
true`

// TestSyncthingTwoPeersShareAVolume runs two syncthing ReplicationSources, each a Deployment
// with its own volume, peers them with each other's status.syncthing, and checks from pods that
// data written on one side appears on the other, and back, by checksum.
func TestSyncthingTwoPeersShareAVolume(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "syncthing")
	privilegedMovers(t, ns)
	newPVC(t, ns, "a", nil)
	newPVC(t, ns, "b", nil)
	runPod(t, ns, "write-a", "a", `mkdir -p /data/dir/sub
for i in $(seq 1 30); do head -c $((i * 4099)) /dev/urandom > /data/dir/file-$i; done
head -c 3000000 /dev/urandom > /data/dir/sub/large`, asRoot())
	want := strings.TrimSpace(runPod(t, ns, "sum-a", "a", syncthingSumScript, asRoot()))

	sources := map[string]*volsyncv1alpha1.ReplicationSource{}
	for _, name := range []string{"a", "b"} {
		rs := &volsyncv1alpha1.ReplicationSource{
			ObjectMeta: objectMeta(ns, name),
			Spec:       volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: name, Syncthing: &volsyncv1alpha1.ReplicationSourceSyncthingSpec{}},
		}
		create(t, rs)
		sources[name] = rs
	}
	published := func(rs *volsyncv1alpha1.ReplicationSource) error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(rs), rs); err != nil {
			return err
		}
		if st := rs.Status.Syncthing; st == nil || st.ID == "" || st.Address == "" {
			return fmt.Errorf("%s has not published its device yet: %+v; conditions %+v", rs.Name, st, rs.Status.Conditions)
		}
		return nil
	}
	for _, rs := range sources {
		eventually(t, syncTimeout, func() error { return published(rs) })
	}
	peer := func(from, to string) {
		st := sources[to].Status.Syncthing
		patch := fmt.Sprintf(`{"spec":{"syncthing":{"peers":[{"ID":%q,"address":%q,"introducer":false}]}}}`, st.ID, st.Address)
		if err := k8s.Patch(ctx, sources[from], client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			t.Fatal(err)
		}
	}
	peer("a", "b")
	peer("b", "a")
	for _, rs := range sources {
		eventually(t, syncTimeout, func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(rs), rs); err != nil {
				return err
			}
			if p := rs.Status.Syncthing.Peers; len(p) != 1 || !p[0].Connected {
				return fmt.Errorf("%s's peers: %+v", rs.Name, p)
			}
			return nil
		})
	}

	converged := func(claim, want string) {
		n := 0
		eventually(t, syncTimeout, func() error {
			n++
			got := strings.TrimSpace(runPod(t, ns, fmt.Sprintf("sum-%s-%d", claim, n), claim, syncthingSumScript, asRoot()))
			if got != want {
				return fmt.Errorf("%s holds %d files, want %d", claim, strings.Count(got, "\n")+1, strings.Count(want, "\n")+1)
			}
			return nil
		})
	}
	converged("b", want)

	// Written on b, it comes back to a: the volume is shared both ways.
	runPod(t, ns, "write-b", "b", `echo from-b > /data/dir/from-b; rm /data/dir/file-1`, asRoot())
	wantBack := strings.TrimSpace(runPod(t, ns, "sum-b-written", "b", syncthingSumScript, asRoot()))
	converged("a", wantBack)
}
