package replication

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

const wait = 30 * time.Second

var nsCounter atomic.Int32

// namespace makes a fresh namespace, privileged for movers or not, and sets the fake clock to the
// real time: objects get their creationTimestamp from the API server's clock, and the schedule
// engine counts from it, so each test starts with the two in step.
func namespace(t *testing.T, privileged bool) string {
	t.Helper()
	ns := bareNamespace(t, privileged)
	for _, s := range userSecrets() {
		s.Namespace = ns
		if err := k8s.Create(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// userSecrets are the Secrets the suite's sources and destinations name (restic's repository,
// rclone's config, rsync-tls's key), made as a user makes them: without volsync's label, so that
// volsyncd reads them past its cache. volsyncd refuses to start a mover whose Secret is missing.
func userSecrets() []*corev1.Secret {
	return []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "restic-repo"},
			StringData: map[string]string{"RESTIC_REPOSITORY": "s3:http://minio.example:9000/b", "RESTIC_PASSWORD": "pw"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "rclone-secret"}, StringData: map[string]string{"rclone.conf": "[s3]\ntype = s3\n"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "psk"}, StringData: map[string]string{"psk.txt": "volsync:00"}},
	}
}

// bareNamespace is a namespace for one test without userSecrets.
func bareNamespace(t *testing.T, privileged bool) string {
	t.Helper()
	fakeClock.SetTime(time.Now())
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("repl-%d", nsCounter.Add(1))}}
	if privileged {
		ns.Annotations = map[string]string{volsyncv1alpha1.PrivilegedMoversAnnotation: "true"}
	}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// create makes obj and deletes it when the test ends, so its reconciles stop.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %s: %v", obj.GetName(), err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), obj) })
}

func sourcePVC(t *testing.T, ns, name string, annotations map[string]string) *corev1.PersistentVolumeClaim {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	create(t, pvc)
	return pvc
}

// poke changes an annotation so the object is reconciled again after the clock was stepped (the
// reconciler requeued for the real time at which the fake clock's next trigger would come).
func poke(t *testing.T, obj client.Object) {
	t.Helper()
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{"test.volsync.backube/poke":"%d"}}}`, time.Now().UnixNano()))
	if err := k8s.Patch(context.Background(), obj, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
}

// created moves the fake clock to just after obj's creation (which the API server stamps with
// whole seconds of its own clock) so the first trigger is due.
func created(t *testing.T, obj client.Object) {
	t.Helper()
	get(t, obj)
	if at := obj.GetCreationTimestamp().Time.Add(time.Second); at.After(fakeClock.Now()) {
		fakeClock.SetTime(at)
	}
	poke(t, obj)
}

func get[T client.Object](t *testing.T, obj T) T {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func synchronizing(st *volsyncv1alpha1.ReplicationStatus) *metav1.Condition {
	return meta.FindStatusCondition(st.Conditions, volsyncv1alpha1.ConditionSynchronizing)
}

// waitReason waits for the Synchronizing condition to have reason.
func waitReason(t *testing.T, obj client.Object, reason string) {
	t.Helper()
	eventually(t, wait, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		st := statusOf(obj)
		c := synchronizing(st)
		if c == nil || c.Reason != reason {
			return fmt.Errorf("Synchronizing is %+v, want reason %s", c, reason)
		}
		return nil
	})
}

func statusOf(obj client.Object) *volsyncv1alpha1.ReplicationStatus {
	switch o := obj.(type) {
	case *volsyncv1alpha1.ReplicationSource:
		return &o.Status.ReplicationStatus
	case *volsyncv1alpha1.ReplicationDestination:
		return &o.Status.ReplicationStatus
	}
	panic(fmt.Sprintf("no replication status in %T", obj))
}

// waitJob waits for the Job to exist (a different one than notUID, when given).
func waitJob(t *testing.T, ns, name string, notUID string) *batchv1.Job {
	t.Helper()
	var job batchv1.Job
	eventually(t, wait, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &job); err != nil {
			return err
		}
		if string(job.UID) == notUID {
			return fmt.Errorf("job %s is still the previous one", name)
		}
		return nil
	})
	return &job
}

// noJob checks that the Job does not exist (now, and after the controller had time to act).
func noJob(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, wait, func() error {
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &batchv1.Job{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("job %s exists (%v)", name, err)
	})
}

// finishJob plays the kubelet and the Job controller: a pod of the Job ends with exitCode and
// writes message to its termination log, and the Job is marked Complete (exit 0) or Failed.
func finishJob(t *testing.T, job *batchv1.Job, exitCode int32, message, failReason string) {
	t.Helper()
	testenv.FinishJob(t, k8s, job, moverImage, exitCode, message, failReason)
}

// summary is the JSON the mover writes to its termination log.
func summary(result string, bytes, files int64, msg string) string {
	return fmt.Sprintf(`{"result":%q,"message":%q,"bytes":%d,"files":%d}`, result, msg, bytes, files)
}

// eventReasons lists the reasons of the Events about the named object.
func eventReasons(t *testing.T, ns, name string) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e.Reason+": "+e.Note)
		}
	}
	return out
}

// waitEvent waits for an Event about name whose reason is reason.
func waitEvent(t *testing.T, ns, name, reason string) string {
	t.Helper()
	var note string
	eventually(t, wait, func() error {
		for _, e := range eventReasons(t, ns, name) {
			if strings.HasPrefix(e, reason+": ") {
				note = e
				return nil
			}
		}
		return fmt.Errorf("no %s event for %s", reason, name)
	})
	return note
}

// envOf returns a container env var of the Job.
func envOf(job *batchv1.Job, name string) (string, bool) {
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// dataClaim is the PVC the Job mounts at /data.
func dataClaim(job *batchv1.Job) string {
	for _, v := range job.Spec.Template.Spec.Volumes {
		if v.Name == "data" && v.PersistentVolumeClaim != nil {
			return v.PersistentVolumeClaim.ClaimName
		}
	}
	return ""
}
