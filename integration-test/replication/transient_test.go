package replication

import (
	"context"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
)

func TestMissingCapacityIsAConditionAndAnEventUntilItIsGiven(t *testing.T) {
	ns := namespace(t, false)
	rd := tlsDestination(ns, "nocap", volsyncv1alpha1.CopyMethodDirect)
	rd.Spec.RsyncTLS.Capacity = nil
	create(t, rd)
	waitReason(t, rd, mover.ReasonCapacityRequired)
	c := synchronizing(&rd.Status.ReplicationStatus)
	if c.Status != metav1.ConditionTrue || rd.Status.ActiveSync == nil {
		t.Errorf("condition %+v, activeSync %+v: want the sync still running, waiting", c, rd.Status.ActiveSync)
	}
	waitEvent(t, ns, rd.Name, mover.ReasonCapacityRequired)

	rd.Spec.RsyncTLS.Capacity = ptr.To(resource.MustParse("1Gi"))
	if err := k8s.Update(context.Background(), rd); err != nil {
		t.Fatal(err)
	}
	waitJob(t, ns, mover.ObjectName("rsync-tls-dst", rd.Name), "")
	waitReason(t, rd, volsyncv1alpha1.ReasonSyncInProgress)
}

func TestAJobRefusedByAQuotaIsAConditionAndAnEventUntilTheQuotaAllowsIt(t *testing.T) {
	ns := namespace(t, false)
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-jobs", Namespace: ns},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"count/jobs.batch": resource.MustParse("0")}},
	}
	create(t, quota)
	// No quota controller runs here; the admission plug-in enforces what the status says.
	quota.Status = corev1.ResourceQuotaStatus{Hard: quota.Spec.Hard, Used: corev1.ResourceList{"count/jobs.batch": resource.MustParse("0")}}
	if err := k8s.Status().Update(context.Background(), quota); err != nil {
		t.Fatal(err)
	}
	rd := tlsDestination(ns, "quota", volsyncv1alpha1.CopyMethodDirect)
	create(t, rd)
	waitReason(t, rd, mover.ReasonQuotaExceeded)
	waitEvent(t, ns, rd.Name, mover.ReasonQuotaExceeded)

	if err := k8s.Delete(context.Background(), quota); err != nil {
		t.Fatal(err)
	}
	waitJob(t, ns, mover.ObjectName("rsync-tls-dst", rd.Name), "")
	waitReason(t, rd, volsyncv1alpha1.ReasonSyncInProgress)
}

// volsyncd reads its mover Jobs from its cache alone. A Job of the mover's name that volsync did
// not make is never in that cache: the create finds it, and the sync shows the conflict instead
// of running (or waiting on) someone else's Job.
func TestAJobOfTheMoversNameThatVolsyncDidNotMakeIsAConflictNotTheSync(t *testing.T) {
	ns := namespace(t, false)
	name := mover.ObjectName("rsync-tls-dst", "taken")
	foreign := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "someone-else", Image: "busybox"}},
		}}},
	}
	create(t, foreign)
	rd := tlsDestination(ns, "taken", volsyncv1alpha1.CopyMethodDirect)
	create(t, rd)
	waitReason(t, rd, mover.ReasonNameConflict)
	waitEvent(t, ns, rd.Name, mover.ReasonNameConflict)
	if got := get(t, foreign); got.Spec.Template.Spec.Containers[0].Name != "someone-else" || len(got.OwnerReferences) != 0 {
		t.Errorf("the user's Job was changed: %+v", got)
	}

	if err := k8s.Delete(context.Background(), foreign, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	poke(t, rd)
	waitJob(t, ns, name, string(foreign.UID))
	waitReason(t, rd, volsyncv1alpha1.ReasonSyncInProgress)
}
