package job

import (
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
)

func owner() *volsyncv1alpha1.ReplicationSource {
	return &volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "app", UID: "uid-1"}}
}

func TestBuild(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  Spec
		check func(t *testing.T, j *batchv1.Job)
	}{
		{"a Block PVC is given to the mover as the device /dev/block, named by DATA_DEVICE, not mounted", Spec{
			Volumes: []Volume{DataVolume(&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "disk"},
				Spec: corev1.PersistentVolumeClaimSpec{VolumeMode: ptr.To(corev1.PersistentVolumeBlock)}}, true)},
		}, func(t *testing.T, j *batchv1.Job) {
			c := j.Spec.Template.Spec.Containers[0]
			if len(c.VolumeDevices) != 1 || c.VolumeDevices[0].DevicePath != "/dev/block" || c.VolumeDevices[0].Name != "data" {
				t.Errorf("volumeDevices %+v", c.VolumeDevices)
			}
			if slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "data" }) {
				t.Errorf("the device is also mounted: %+v", c.VolumeMounts)
			}
			if !slices.Contains(c.Env, corev1.EnvVar{Name: "DATA_DEVICE", Value: "/dev/block"}) {
				t.Errorf("env %+v lacks DATA_DEVICE", c.Env)
			}
		}},
		{"a Filesystem PVC is mounted at /data, with no DATA_DEVICE", Spec{
			Volumes: []Volume{DataVolume(&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "fs"}}, false)},
		}, func(t *testing.T, j *batchv1.Job) {
			c := j.Spec.Template.Spec.Containers[0]
			if len(c.VolumeDevices) != 0 || !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "data" && m.MountPath == "/data" }) {
				t.Errorf("devices %+v, mounts %+v", c.VolumeDevices, c.VolumeMounts)
			}
			if slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "DATA_DEVICE" }) {
				t.Errorf("env %+v has DATA_DEVICE", c.Env)
			}
		}},
		{"moverVolumes are mounted under /mnt, Secrets read-only, and an unsafe path is left out", Spec{Config: volsyncv1alpha1.MoverConfig{
			MoverVolumes: []volsyncv1alpha1.MoverVolume{
				{MountPath: "certs", VolumeSource: volsyncv1alpha1.MoverVolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "ca"}}},
				{MountPath: "data/extra", VolumeSource: volsyncv1alpha1.MoverVolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "more"}}},
				{MountPath: "../etc", VolumeSource: volsyncv1alpha1.MoverVolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "evil"}}},
			},
		}}, func(t *testing.T, j *batchv1.Job) {
			mounts := map[string]corev1.VolumeMount{}
			for _, m := range j.Spec.Template.Spec.Containers[0].VolumeMounts {
				mounts[m.MountPath] = m
			}
			if m, ok := mounts["/mnt/certs"]; !ok || !m.ReadOnly {
				t.Errorf("/mnt/certs %+v, want the Secret read-only", m)
			}
			if m, ok := mounts["/mnt/data/extra"]; !ok || m.ReadOnly {
				t.Errorf("/mnt/data/extra %+v, want the PVC writable", m)
			}
			for p := range mounts {
				if strings.Contains(p, "etc") {
					t.Errorf("the unsafe mountPath was mounted at %s", p)
				}
			}
		}},
		{"an unprivileged mover runs as non-root with no capabilities and a read-only root", Spec{}, func(t *testing.T, j *batchv1.Job) {
			pod, c := j.Spec.Template.Spec, j.Spec.Template.Spec.Containers[0]
			if !*pod.SecurityContext.RunAsNonRoot || *pod.SecurityContext.RunAsUser == 0 {
				t.Errorf("pod security context %+v", pod.SecurityContext)
			}
			if pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("seccomp %v", pod.SecurityContext.SeccompProfile)
			}
			if *c.SecurityContext.AllowPrivilegeEscalation || !*c.SecurityContext.ReadOnlyRootFilesystem {
				t.Errorf("container security context %+v", c.SecurityContext)
			}
			if !slices.Equal(c.SecurityContext.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(c.SecurityContext.Capabilities.Add) != 0 {
				t.Errorf("capabilities %+v", c.SecurityContext.Capabilities)
			}
			if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" }) {
				t.Errorf("no writable /tmp: %+v", c.VolumeMounts)
			}
		}},
		{"a privileged mover runs as root with what rsync needs to keep ownership", Spec{Privileged: true}, func(t *testing.T, j *batchv1.Job) {
			pod, c := j.Spec.Template.Spec, j.Spec.Template.Spec.Containers[0]
			if *pod.SecurityContext.RunAsUser != 0 {
				t.Errorf("runAsUser %v", *pod.SecurityContext.RunAsUser)
			}
			want := []corev1.Capability{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID", "SYS_CHROOT"}
			if !slices.Equal(c.SecurityContext.Capabilities.Add, want) {
				t.Errorf("capabilities add %v, want %v", c.SecurityContext.Capabilities.Add, want)
			}
		}},
		{"an unprivileged namespace cannot ask for root through the security context", Spec{Config: volsyncv1alpha1.MoverConfig{MoverSecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](0)}}}, func(t *testing.T, j *batchv1.Job) {
			if sc := j.Spec.Template.Spec.SecurityContext; *sc.RunAsUser == 0 || !*sc.RunAsNonRoot {
				t.Errorf("pod security context %+v", sc)
			}
		}},
		{"the user's security context is kept in an unprivileged namespace", Spec{Config: volsyncv1alpha1.MoverConfig{MoverSecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), FSGroup: ptr.To[int64](2000)}}}, func(t *testing.T, j *batchv1.Job) {
			if sc := j.Spec.Template.Spec.SecurityContext; *sc.RunAsUser != 1000 || *sc.FSGroup != 2000 {
				t.Errorf("pod security context %+v", sc)
			}
		}},
		{"retries default to two", Spec{}, func(t *testing.T, j *batchv1.Job) {
			if *j.Spec.BackoffLimit != 2 {
				t.Errorf("backoffLimit %d", *j.Spec.BackoffLimit)
			}
		}},
		{"moverBackoffLimit sets the retries", Spec{Config: volsyncv1alpha1.MoverConfig{MoverBackoffLimit: ptr.To[int32](5)}}, func(t *testing.T, j *batchv1.Job) {
			if *j.Spec.BackoffLimit != 5 {
				t.Errorf("backoffLimit %d", *j.Spec.BackoffLimit)
			}
		}},
		{"paused is parallelism zero", Spec{Paused: true}, func(t *testing.T, j *batchv1.Job) {
			if *j.Spec.Parallelism != 0 {
				t.Errorf("parallelism %d", *j.Spec.Parallelism)
			}
		}},
		{"a fail-fast exit code fails the job without retries", Spec{FailFast: []FailFast{{ExitCode: 11}}}, func(t *testing.T, j *batchv1.Job) {
			p := j.Spec.PodFailurePolicy
			if p == nil || p.Rules[0].Action != batchv1.PodFailurePolicyActionFailJob || !slices.Equal(p.Rules[0].OnExitCodes.Values, []int32{11}) {
				t.Errorf("podFailurePolicy %+v", p)
			}
			if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("restartPolicy %s", j.Spec.Template.Spec.RestartPolicy)
			}
		}},
		{"resources, labels, affinity and the service account come from the spec", Spec{
			ServiceAccount: "sa",
			Config: volsyncv1alpha1.MoverConfig{
				MoverResources: &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}},
				MoverPodLabels: map[string]string{"team": "db"},
				MoverAffinity:  &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}},
			}}, func(t *testing.T, j *batchv1.Job) {
			pod := j.Spec.Template
			if pod.Spec.Containers[0].Resources.Limits.Memory().String() != "1Gi" || pod.Labels["team"] != "db" ||
				pod.Spec.Affinity == nil || pod.Spec.ServiceAccountName != "sa" {
				t.Errorf("pod %+v", pod)
			}
			if pod.Labels[volsyncv1alpha1.CleanupLabel] != "uid-1" {
				t.Errorf("pod labels %v lack the cleanup label", pod.Labels)
			}
		}},
		{"the mover reports through the termination log, falling back to its log", Spec{}, func(t *testing.T, j *batchv1.Job) {
			if c := j.Spec.Template.Spec.Containers[0]; c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
				t.Errorf("terminationMessagePolicy %s", c.TerminationMessagePolicy)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.spec
			s.Owner, s.Name, s.Image = owner(), "volsync-test", "mover:1"
			tc.check(t, Build(s))
		})
	}
}

func TestParseTermination(t *testing.T) {
	for _, tc := range []struct {
		name, msg    string
		wantResult   string
		wantBytes    int64
		wantLogsHave string
	}{
		{"a JSON summary gives result, counts and message", `{"result":"Successful","message":"sent 10 files","bytes":4096,"files":10}`, "Successful", 4096, "sent 10 files"},
		{"anything else is the log tail", "rsync: connection refused\n", "", 0, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, logs := parseTermination(tc.msg)
			if s.Result != tc.wantResult || s.Bytes != tc.wantBytes || !strings.Contains(logs, tc.wantLogsHave) {
				t.Errorf("got %+v, logs %q", s, logs)
			}
		})
	}
}

func TestTailKeepsTheEndWithinTheCap(t *testing.T) {
	long := strings.Repeat("line of log output\n", 200) + "the last line"
	got := Tail(long, MaxLogBytes)
	if len(got) > MaxLogBytes || !strings.HasSuffix(got, "the last line") {
		t.Errorf("tail of %d bytes ends %q", len(got), got[len(got)-20:])
	}
}

func TestObjectNamesStayWithinALabelValue(t *testing.T) {
	long := strings.Repeat("a", 100)
	if n := mover.ObjectName("rsync-tls-src", long); len(n) > 63 || n == mover.ObjectName("rsync-tls-src", long+"b") {
		t.Errorf("name %q (%d)", n, len(n))
	}
	if n := mover.ObjectName("src", "db"); n != "volsync-src-db" {
		t.Errorf("short name %q", n)
	}
}

// TestSyncOfTellsTwoSyncsOfAnOwnerApart: the name a mover Job keeps of its sync changes with the
// scheduled time, the attempt and the end of the sync before, and with nothing else.
func TestSyncOfTellsTwoSyncsOfAnOwnerApart(t *testing.T) {
	at := func(s string) *metav1.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &metav1.Time{Time: tm}
	}
	st := func(trigger string, scheduled *metav1.Time, attempt int32, last *metav1.Time) *volsyncv1alpha1.ReplicationStatus {
		return &volsyncv1alpha1.ReplicationStatus{LastSyncTime: last, ActiveSync: &volsyncv1alpha1.ActiveSync{
			Trigger: trigger, ScheduledTime: scheduled, Attempt: attempt, StartTime: metav1.Now(),
		}}
	}
	ten, twenty := at("2026-12-04T10:00:00Z"), at("2026-12-04T10:10:00Z")
	base := SyncOf(st("Schedule", ten, 1, nil))
	if want := "Schedule, scheduled 2026-12-04T10:00:00Z, attempt 1"; base != want {
		t.Errorf("SyncOf = %q, want %q", base, want)
	}
	for name, other := range map[string]*volsyncv1alpha1.ReplicationStatus{
		"a later scheduled time": st("Schedule", twenty, 1, nil),
		"a second attempt":       st("Schedule", ten, 2, nil),
		"after another sync":     st("Schedule", ten, 1, twenty),
	} {
		if got := SyncOf(other); got == base {
			t.Errorf("%s: SyncOf is %q, the same as the first sync's", name, got)
		}
	}
	if got := SyncOf(&volsyncv1alpha1.ReplicationStatus{}); got != "" {
		t.Errorf("no sync running: SyncOf = %q, want empty", got)
	}
	// The start time is not part of it: the pass that records the start has another now.
	later := st("Schedule", ten, 1, nil)
	later.ActiveSync.StartTime = metav1.NewTime(later.ActiveSync.StartTime.Add(time.Second))
	if SyncOf(later) != base {
		t.Errorf("SyncOf changed with the start time")
	}
}
