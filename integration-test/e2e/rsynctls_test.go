package e2e

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// appUser is the non-root user and group the unprivileged scenario's application writes as.
const appUser int64 = 1000

// appSecurityContext is how an application that writes as appUser runs, and what the VolSync docs
// tell users to give the movers of its volume: the same user and group, and that group as fsGroup.
func appSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{RunAsUser: ptr.To(appUser), RunAsGroup: ptr.To(appUser), FSGroup: ptr.To(appUser)}
}

// TestRsyncTLSUnprivilegedFromAClone replicates a volume an application writes as a non-root user,
// over rsync-tls, with unprivileged movers (the namespace has no privileged-movers annotation) that
// run as that user, as the VolSync docs advise. The source is copied by a CSI clone; the destination
// keeps a VolumeSnapshot of each sync. Two rounds: every latestImage is checked by checksum from a
// pod that mounts a claim restored from it.
func TestRsyncTLSUnprivilegedFromAClone(t *testing.T) {
	ns := newNamespace(t, "rsync-tls")
	newPVC(t, ns, "source", nil)
	want := writeTreeAs(t, ns, "source", "tls-first", appSecurityContext())

	rd := newRsyncTLSDestination(t, ns, "backup", volsyncv1alpha1.ReplicationDestinationVolumeOptions{
		CopyMethod: volsyncv1alpha1.CopyMethodSnapshot, Capacity: ptrQuantity("1Gi"),
		StorageClassName: ptr.To(storageClass), VolumeSnapshotClassName: ptr.To(snapshotClass),
	}, volsyncv1alpha1.MoverConfig{MoverSecurityContext: appSecurityContext()})

	rs := rsyncTLSSource(ns, "source", rd, volsyncv1alpha1.CopyMethodClone, volsyncv1alpha1.MoverConfig{MoverSecurityContext: appSecurityContext()})
	create(t, rs)
	waitManualSync(t, rs, "first")
	requireUnprivilegedMover(t, ns)
	image := waitNewImage(t, rd, "")
	requireSameTree(t, "the first image", withoutVolumeRoot(want), withoutVolumeRoot(restoredTreeSum(t, ns, image, "first")))

	want = writeTreeAs(t, ns, "source", "tls-second", appSecurityContext())
	setManual(t, rs, "second")
	waitManualSync(t, rs, "second")
	image2 := waitNewImage(t, rd, image)
	requireSameTree(t, "the second image", withoutVolumeRoot(want), withoutVolumeRoot(restoredTreeSum(t, ns, image2, "second")))
}

// rsyncTLSSource is a ReplicationSource of the claim name, manually triggered with "first", that
// sends over rsync-tls to the listening rd.
func rsyncTLSSource(ns, name string, rd *volsyncv1alpha1.ReplicationDestination, method volsyncv1alpha1.CopyMethodType,
	mc volsyncv1alpha1.MoverConfig) *volsyncv1alpha1.ReplicationSource {
	return &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: objectMeta(ns, name),
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: name,
			Trigger:   &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "first"},
			RsyncTLS: &volsyncv1alpha1.ReplicationSourceRsyncTLSSpec{
				ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{CopyMethod: method},
				Address:                        rd.Status.RsyncTLS.Address,
				KeySecret:                      rd.Status.RsyncTLS.KeySecret,
				MoverConfig:                    mc,
			},
		},
	}
}

// withoutVolumeRoot drops the volume root's line ("dir <mode> ") from a checksum listing. The root
// belongs to the storage, not to the replicated tree: it is root's, its mode is the CSI driver's
// and kubelet's fsGroup adds the setgid bit, and an unprivileged mover, which does not own it,
// cannot set its mode. Everything under it is compared.
func withoutVolumeRoot(listing string) string {
	var keep []string
	for _, l := range strings.Split(listing, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "dir" {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// newRsyncTLSDestination makes an always-listening rsync-tls ReplicationDestination and waits until
// its status publishes the address and key Secret a source needs.
func newRsyncTLSDestination(t *testing.T, ns, name string, opts volsyncv1alpha1.ReplicationDestinationVolumeOptions,
	mc volsyncv1alpha1.MoverConfig) *volsyncv1alpha1.ReplicationDestination {
	t.Helper()
	rd := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: objectMeta(ns, name),
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{
			RsyncTLS: &volsyncv1alpha1.ReplicationDestinationRsyncTLSSpec{ReplicationDestinationVolumeOptions: opts, MoverConfig: mc},
		},
	}
	createListening(t, rd)
	return rd
}

// requireUnprivilegedMover checks that the mover pods in ns (the destination's, listening for the
// next sync; the source's is gone with its Job) run as appUser without capabilities, as the user
// asked, and not as root. That the source read the application's owner-only file shows its mover
// ran as appUser too.
func requireUnprivilegedMover(t *testing.T, ns string) {
	t.Helper()
	var pods corev1.PodList
	if err := k8s.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/created-by": "volsync"}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) == 0 {
		t.Fatalf("no mover pods in %s to check", ns)
	}
	for _, p := range pods.Items {
		sc := p.Spec.SecurityContext
		if sc == nil || ptr.Deref(sc.RunAsUser, 0) != appUser || ptr.Deref(sc.FSGroup, 0) != appUser || !ptr.Deref(sc.RunAsNonRoot, false) {
			t.Errorf("mover pod %s runs with security context %+v, want user and fsGroup %d, non-root", p.Name, sc, appUser)
		}
		for _, c := range p.Spec.Containers {
			if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil || len(c.SecurityContext.Capabilities.Add) > 0 {
				t.Errorf("mover container %s/%s may gain capabilities: %+v", p.Name, c.Name, c.SecurityContext)
			}
		}
	}
}
