package replication

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/replication/statemachine"
)

// secretsNeverShow checks that status and the Events about obj show none of planted; summarized
// says that the mover wrote a summary, whose message the TransferFailed Event then carries.
func secretsNeverShow(t *testing.T, obj *volsyncv1alpha1.ReplicationSource, summarized bool, planted ...string) {
	t.Helper()
	waitReason(t, obj, volsyncv1alpha1.ReasonError)
	note := waitEvent(t, obj.Namespace, obj.Name, statemachine.ReasonSyncFailed)
	st := obj.Status.LatestMoverStatus
	if st == nil || !strings.Contains(st.Logs, "***") {
		t.Fatalf("latestMoverStatus %+v should carry the masked message", st)
	}
	for _, p := range planted {
		if strings.Contains(st.Logs, p) {
			t.Errorf("latestMoverStatus.logs shows the Secret's value %q: %q", p, st.Logs)
		}
		for _, e := range eventReasons(t, obj.Namespace, obj.Name) {
			if strings.Contains(e, p) {
				t.Errorf("an Event shows the Secret's value %q: %q", p, e)
			}
		}
		for _, c := range obj.Status.Conditions {
			if strings.Contains(c.Message, p) {
				t.Errorf("condition %s shows the Secret's value %q: %q", c.Type, p, c.Message)
			}
		}
	}
	if summarized && !strings.Contains(note, "***") {
		t.Errorf("the TransferFailed event %q should carry the masked message", note)
	}
}

// TestTheResticSecretsValuesNeverReachStatusOrEvents: a mover whose output still shows a value of
// its repository Secret, under a key nobody could list in advance (an older mover image, or the
// log tail the kubelet falls back to), shows it neither in latestMoverStatus.logs nor in Events.
func TestTheResticSecretsValuesNeverReachStatusOrEvents(t *testing.T) {
	ns := bareNamespace(t, false)
	sourcePVC(t, ns, "data", nil)
	const handle, password = "team-vault-handle-6d1e", "repository-password-90ab"
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "restic-repo", Namespace: ns}, StringData: map[string]string{
		"RESTIC_REPOSITORY": "s3:http://minio.example:9000/bucket/app", "RESTIC_PASSWORD": password,
		"ZZ_TEAM_VAULT_HANDLE": handle,
	}})
	rs := resticSource(ns, "masked", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "once"})
	create(t, rs)
	job := waitJob(t, ns, resticSourceJob(rs.Name), "")
	finishJob(t, job, 1, summary("Failed", 0, 0, fmt.Sprintf("opening the repository with %s for %s failed", password, handle)), "BackoffLimitExceeded")
	secretsNeverShow(t, rs, true, handle, password)
}

// TestTheRcloneConfigsValuesNeverReachStatusOrEvents: every value of rclone.conf, whatever its key,
// is masked in the log tail the kubelet falls back to.
func TestTheRcloneConfigsValuesNeverReachStatusOrEvents(t *testing.T) {
	ns := bareNamespace(t, false)
	sourcePVC(t, ns, "data", nil)
	const key, odd = "wJalrXUtnFEMI-K7MDENG-3344", "planted-odd-config-value"
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "rclone-secret", Namespace: ns}, StringData: map[string]string{
		"rclone.conf": "[aws-s3]\ntype = s3\nsecret_access_key = " + key + "\nzz_custom_header = " + odd + "\n",
	}})
	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "masked", Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "data",
			Trigger: &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "once"},
			Rclone: &volsyncv1alpha1.ReplicationSourceRcloneSpec{
				RcloneConfig: ptr.To("rclone-secret"), RcloneConfigSection: ptr.To("aws-s3"), RcloneDestPath: ptr.To("bucket/db"),
			}},
	}
	create(t, rs)
	job := waitJob(t, ns, mover.ObjectName("rclone-src", rs.Name), "")
	finishJob(t, job, 1, "panic: sending with "+key+"\nheader "+odd+"\n", "BackoffLimitExceeded")
	secretsNeverShow(t, rs, false, key, odd)
}
