package replication

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

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
