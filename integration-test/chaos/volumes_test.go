package chaos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The e2e tests' way of writing and comparing volumes (integration-test/e2e/main_test.go), as
// functions that return errors: they run in goroutines too, one per workload, where a test may
// not fail itself.

// podTimeout bounds one pod that writes or reads a small tree, on a node busy with movers.
const podTimeout = 4 * time.Minute

func objectMeta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name}
}

// newPVC makes a 1Gi claim of the cluster's CSI StorageClass, optionally from a snapshot.
func newPVC(ctx context.Context, ns, name, fromSnapshot string) error {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: objectMeta(ns, name),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To(storageClass),
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("1Gi"),
			}},
		},
	}
	if fromSnapshot != "" {
		pvc.Spec.DataSource = &corev1.TypedLocalObjectReference{
			APIGroup: ptr.To(snapv1.GroupName), Kind: "VolumeSnapshot", Name: fromSnapshot,
		}
	}
	return k8s.Create(ctx, pvc)
}

// runPod runs script as root in a mover-image pod with claim mounted at /data, waits for it to
// end, deletes it (the claim is ReadWriteOnce) and returns its output.
func runPod(ctx context.Context, ns, name, claim, script string) (string, error) {
	pod := &corev1.Pod{
		ObjectMeta: objectMeta(ns, name),
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			// Root, so that every file is the pod's to read and every mode its to set.
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](0)},
			Containers: []corev1.Container{{
				Name: "run", Image: moverImage, ImagePullPolicy: corev1.PullIfNotPresent,
				Command:      []string{"sh", "-ec", script},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
			}}},
		},
	}
	if err := k8s.Create(ctx, pod); err != nil {
		return "", fmt.Errorf("creating pod %s/%s: %w", ns, name, err)
	}
	err := poll(ctx, podTimeout, time.Second, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		switch pod.Status.Phase {
		case corev1.PodSucceeded, corev1.PodFailed:
			return nil
		}
		return fmt.Errorf("pod %s/%s is %s", ns, name, pod.Status.Phase)
	})
	if err != nil {
		return "", err
	}
	logs, err := podLogs(ctx, ns, name)
	if err != nil {
		return "", err
	}
	if pod.Status.Phase != corev1.PodSucceeded {
		return "", fmt.Errorf("pod %s/%s failed:\n%s", ns, name, logs)
	}
	if err := k8s.Delete(ctx, pod, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
		return "", err
	}
	// Gone before the next pod or mover mounts the claim.
	return logs, poll(ctx, time.Minute, time.Second, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("pod %s/%s is still there (%v)", ns, name, err)
		}
		return nil
	})
}

func podLogs(ctx context.Context, ns, name string) (string, error) {
	r, err := clientset.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).Stream(ctx)
	if err != nil {
		return "", err
	}
	defer r.Close()
	var b bytes.Buffer
	_, err = io.Copy(&b, r)
	return b.String(), err
}

// writeTree replaces the claim's tree with a new one of random files (nested directories, a hard
// link, an empty file, modes) and returns its checksum listing. Every call writes other content,
// so a copy that kept an older tree shows.
func writeTree(ctx context.Context, ns, claim, pod, seed string) (string, error) {
	script := fmt.Sprintf(`
find /data -mindepth 1 -maxdepth 1 ! -name lost+found ! -name '.volsync*' -exec rm -rf {} +
mkdir -p /data/a/b/c /data/empty-dir
for i in $(seq 1 40); do head -c $((i * 997)) /dev/urandom > /data/a/file-$i; done
for i in $(seq 1 10); do head -c 65536 /dev/urandom > /data/a/b/c/deep-$i; done
echo %q > /data/seed
: > /data/empty-file
chmod 0640 /data/a/file-1
ln -f /data/a/file-2 /data/a/hardlink-to-2
sync
%s`, seed, treeSumScript)
	out, err := runPod(ctx, ns, pod, claim, script)
	return strings.TrimSpace(out), err
}

// treeSum returns the checksum listing of a claim's tree.
func treeSum(ctx context.Context, ns, claim, pod string) (string, error) {
	out, err := runPod(ctx, ns, pod, claim, treeSumScript)
	return strings.TrimSpace(out), err
}

// treeSumScript prints one line per file (content hash, mode, path) and per directory (mode, path),
// leaving out what movers keep for themselves, and the number of hard links of the linked file.
const treeSumScript = `cd /data
find . -path ./lost+found -prune -o -path './.volsync*' -prune -o -type f -printf '%m %P\n' | sort -k2 | while read -r mode path; do
  printf '%s %s %s\n' "$(sha256sum "$path" | cut -d' ' -f1)" "$mode" "$path"
done
find . -path ./lost+found -prune -o -path './.volsync*' -prune -o -type d -printf 'dir %m %P\n' | sort
[ -e a/hardlink-to-2 ] && echo "links $(stat -c %h a/hardlink-to-2)"
true`

// withoutLinkCount drops the hard-link count from a checksum listing: rclone moves objects, and an
// object store has no hard links, so a linked file arrives as a second file with the same content.
func withoutLinkCount(listing string) string {
	var keep []string
	for _, l := range strings.Split(listing, "\n") {
		if !strings.HasPrefix(l, "links ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// firstDifference says where two checksum listings differ, or "" when they are equal.
func firstDifference(want, got string) string {
	if want == got {
		return ""
	}
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d: source %q, copy %q", i+1, wl, gl)
		}
	}
	return "they differ"
}

// snapshotReady says why a VolumeSnapshot is not ready to use yet, or nil when it is.
func snapshotReady(ctx context.Context, ns, name string) (*snapv1.VolumeSnapshot, error) {
	var s snapv1.VolumeSnapshot
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		return nil, err
	}
	if s.Status == nil || s.Status.ReadyToUse == nil || !*s.Status.ReadyToUse {
		return nil, fmt.Errorf("VolumeSnapshot %s/%s is not ready to use", ns, name)
	}
	return &s, nil
}
