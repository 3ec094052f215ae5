package replication

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/volume"
)

// waitWarning waits for a Warning Event about name whose reason is reason.
func waitWarning(t *testing.T, ns, name, reason string) {
	t.Helper()
	eventually(t, wait, func() error {
		var list eventsv1.EventList
		if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.Name == name && e.Reason == reason && e.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("no Warning %s event for %s (events %v)", reason, name, eventReasons(t, ns, name))
	})
}

// TestAMissingMoverSecretIsAConditionAndAnEventUntilItIsCreated: a mover whose Secret (restic's
// repository, rclone's config, rsync-tls's key) does not exist shows SecretNotFound and a Warning
// Event, and creates no Job that could only hang on the missing Secret; creating the Secret lets
// the sync go on.
func TestAMissingMoverSecretIsAConditionAndAnEventUntilItIsCreated(t *testing.T) {
	for _, tc := range []struct {
		name   string
		source func(ns string) *volsyncv1alpha1.ReplicationSource
		job    string
		secret *corev1.Secret
	}{
		{"restic's repository Secret", func(ns string) *volsyncv1alpha1.ReplicationSource {
			return resticSource(ns, "nosecret", "data", nil)
		}, resticSourceJob("nosecret"), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "restic-repo"},
			StringData: map[string]string{"RESTIC_REPOSITORY": "s3:http://minio.example:9000/b", "RESTIC_PASSWORD": "pw"}}},
		{"rclone's config Secret", func(ns string) *volsyncv1alpha1.ReplicationSource {
			return &volsyncv1alpha1.ReplicationSource{
				ObjectMeta: metav1.ObjectMeta{Name: "nosecret", Namespace: ns},
				Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "data", Rclone: &volsyncv1alpha1.ReplicationSourceRcloneSpec{
					RcloneConfig: ptr.To("rclone-secret"), RcloneConfigSection: ptr.To("s3"), RcloneDestPath: ptr.To("bucket/db"),
				}},
			}
		}, mover.ObjectName("rclone-src", "nosecret"), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "rclone-secret"},
			StringData: map[string]string{"rclone.conf": "[s3]\ntype = s3\n"}}},
		{"rsync-tls's key Secret", func(ns string) *volsyncv1alpha1.ReplicationSource {
			return tlsSource(ns, "nosecret", "data", nil)
		}, tlsSourceJob("nosecret"), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "psk"},
			StringData: map[string]string{"psk.txt": "volsync:00"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := bareNamespace(t, false)
			sourcePVC(t, ns, "data", nil)
			rs := tc.source(ns)
			create(t, rs)
			waitReason(t, rs, mover.ReasonSecretNotFound)
			waitWarning(t, ns, rs.Name, mover.ReasonSecretNotFound)
			noJob(t, ns, tc.job)

			tc.secret.Namespace = ns
			create(t, tc.secret)
			waitJob(t, ns, tc.job, "")
			waitReason(t, rs, volsyncv1alpha1.ReasonSyncInProgress)
		})
	}
}

// TestACopyPVCUnboundPastItsTimeoutIsAConditionAndAnEventUntilItBinds: the clone a Clone source
// moves is not bound after PVCBindTimeout (no provisioner runs here): PVCNotBound is the
// Synchronizing reason and a Warning Event, the sync goes on (the Job exists: with a
// WaitForFirstConsumer class the mover pod is what binds it), and the reason clears once the PVC
// binds.
func TestACopyPVCUnboundPastItsTimeoutIsAConditionAndAnEventUntilItBinds(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := tlsSource(ns, "unbound", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "1"})
	rs.Spec.RsyncTLS.CopyMethod = volsyncv1alpha1.CopyMethodClone
	create(t, rs)
	job := waitJob(t, ns, tlsSourceJob(rs.Name), "")
	waitReason(t, rs, volsyncv1alpha1.ReasonSyncInProgress)

	fakeClock.Step(mover.PVCBindTimeout + 10*time.Second)
	poke(t, rs)
	waitReason(t, rs, volume.ReasonPVCNotBound)
	if c := synchronizing(&rs.Status.ReplicationStatus); c.Status != metav1.ConditionTrue || rs.Status.ActiveSync == nil {
		t.Errorf("condition %+v, activeSync %+v: want the sync still running", c, rs.Status.ActiveSync)
	}
	waitWarning(t, ns, rs.Name, volume.ReasonPVCNotBound)

	clone := get(t, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: dataClaim(job), Namespace: ns}})
	clone.Status.Phase = corev1.ClaimBound
	if err := k8s.Status().Update(context.Background(), clone); err != nil {
		t.Fatal(err)
	}
	waitReason(t, rs, volsyncv1alpha1.ReasonSyncInProgress)
}

// TestASnapshotNotReadyPastItsTimeoutIsAConditionAndAnEventUntilItIsReady: a source's snapshot
// (before the Job) and a destination's (the image, after the Job) not ready after
// SnapshotBindTimeout show SnapshotNotReady as the Synchronizing reason and a Warning Event; the
// sync waits, and goes on once the snapshot is ready.
func TestASnapshotNotReadyPastItsTimeoutIsAConditionAndAnEventUntilItIsReady(t *testing.T) {
	t.Run("a source's snapshot holds the Job back", func(t *testing.T) {
		ns := namespace(t, false)
		sourcePVC(t, ns, "data", nil)
		rs := tlsSource(ns, "snapwait", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "1"})
		rs.Spec.RsyncTLS.CopyMethod = volsyncv1alpha1.CopyMethodSnapshot
		create(t, rs)
		snap := volume.CopyName(rs.Name)
		eventually(t, wait, func() error {
			return k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: snap}, &snapv1.VolumeSnapshot{})
		})
		fakeClock.Step(mover.SnapshotBindTimeout + 10*time.Second)
		poke(t, rs)
		waitReason(t, rs, volume.ReasonSnapshotNotReady)
		waitWarning(t, ns, rs.Name, volume.ReasonSnapshotNotReady)
		noJob(t, ns, tlsSourceJob(rs.Name))

		readySnapshot(t, ns, snap)
		waitJob(t, ns, tlsSourceJob(rs.Name), "")
		waitReason(t, rs, volsyncv1alpha1.ReasonSyncInProgress)
	})
	t.Run("a destination's image holds the end of the sync back", func(t *testing.T) {
		ns := namespace(t, false)
		rd := tlsDestination(ns, "imgwait", volsyncv1alpha1.CopyMethodSnapshot)
		rd.Spec.Trigger = &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "1"}
		create(t, rd)
		finishJob(t, waitJob(t, ns, mover.ObjectName("rsync-tls-dst", rd.Name), ""), 0, summary("Successful", 1, 1, ""), "")
		snap := pendingSnapshot(t, rd, "")
		fakeClock.Step(mover.SnapshotBindTimeout + 10*time.Second)
		poke(t, rd)
		waitReason(t, rd, volume.ReasonSnapshotNotReady)
		waitWarning(t, ns, rd.Name, volume.ReasonSnapshotNotReady)
		if rd.Status.ActiveSync == nil || rd.Status.LastSyncTime != nil {
			t.Errorf("activeSync %+v, lastSyncTime %v: want the sync still running", rd.Status.ActiveSync, rd.Status.LastSyncTime)
		}

		readySnapshot(t, ns, snap)
		waitReason(t, rd, volsyncv1alpha1.ReasonWaitingForManual)
		if img := rd.Status.LatestImage; img == nil || img.Name != snap {
			t.Errorf("latestImage %+v, want snapshot %s", img, snap)
		}
	})
}

// managerRole is volsyncd's ClusterRole as shipped (specs/rbac), renamed name.
func managerRole(t *testing.T, name string) *rbacv1.ClusterRole {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "specs", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(string(data)), "---")), &role); err != nil {
		t.Fatal(err)
	}
	if role.Kind != "ClusterRole" || len(role.Rules) == 0 {
		t.Fatalf("specs/rbac/role.yaml holds %s %q with %d rules, want the manager's ClusterRole", role.Kind, role.Name, len(role.Rules))
	}
	role.ObjectMeta = metav1.ObjectMeta{Name: name}
	return &role
}

// TestAJobTheManagersRoleMayNotCreateIsAConditionAndAnEventUntilItMay: volsyncd runs as an
// identity bound to its shipped ClusterRole with one verb taken out (create on Jobs), as a trimmed
// deployment would: its Job create is Forbidden, which shows as the Synchronizing reason and a
// Warning Event, and the sync goes on once an administrator grants the verb in the namespace.
func TestAJobTheManagersRoleMayNotCreateIsAConditionAndAnEventUntilItMay(t *testing.T) {
	ns := namespace(t, false)
	user := "volsync-manager-" + ns
	role := managerRole(t, user)
	found := false
	for i, r := range role.Rules {
		if slices.Contains(r.APIGroups, "batch") && slices.Contains(r.Resources, "jobs") {
			role.Rules[i].Verbs = slices.DeleteFunc(slices.Clone(r.Verbs), func(v string) bool { return v == "create" })
			found = true
		}
	}
	if !found {
		t.Fatal("the manager's role has no rule for Jobs")
	}
	create(t, role)
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	create(t, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user}, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user},
	})
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	ownManager(t, ns, cfg, nil, nil)

	sourcePVC(t, ns, "data", nil)
	rs := tlsSource(ns, "rbac", "data", nil)
	rs.Labels = map[string]string{ownManagerLabel: "true"}
	create(t, rs)
	waitReason(t, rs, mover.ReasonForbidden)
	if c := synchronizing(&rs.Status.ReplicationStatus); c.Status != metav1.ConditionTrue || rs.Status.ActiveSync == nil || !strings.Contains(c.Message, "jobs") {
		t.Errorf("condition %+v, activeSync %+v: want the running sync to say which create was refused", c, rs.Status.ActiveSync)
	}
	waitWarning(t, ns, rs.Name, mover.ReasonForbidden)
	noJob(t, ns, tlsSourceJob(rs.Name))

	create(t, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "create-jobs", Namespace: ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"create"}}},
	})
	create(t, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "create-jobs", Namespace: ns}, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "create-jobs"},
	})
	waitJob(t, ns, tlsSourceJob(rs.Name), "")
	waitReason(t, rs, volsyncv1alpha1.ReasonSyncInProgress)
}

// TestAMoverPodThatCannotPullItsImageIsAConditionAndAnEventUntilItStarts: a Job has no deadline,
// so a mover pod stuck in ImagePullBackOff would leave the sync running in silence; its reason is
// the Synchronizing reason and a Warning Event until the container starts.
func TestAMoverPodThatCannotPullItsImageIsAConditionAndAnEventUntilItStarts(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := tlsSource(ns, "nopull", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "1"})
	create(t, rs)
	j := waitJob(t, ns, tlsSourceJob(rs.Name), "")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: j.Name + "-stuck", Namespace: ns, Labels: testenv.JobPodLabels(j)},
		Spec:       *j.Spec.Template.Spec.DeepCopy(),
	}
	create(t, pod)
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "mover", Image: moverImage,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: `Back-off pulling image "` + moverImage + `"`}},
	}}}
	if err := k8s.Status().Update(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	poke(t, rs)
	waitReason(t, rs, "ImagePullBackOff")
	waitWarning(t, ns, rs.Name, "ImagePullBackOff")

	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	if err := k8s.Status().Update(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	poke(t, rs)
	waitReason(t, rs, volsyncv1alpha1.ReasonSyncInProgress)
}
