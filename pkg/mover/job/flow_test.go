package job

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover/volume"
)

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := volsyncv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return scheme
}

// TestARunningMoverIsLookedAtWithoutItsVolume: while the owner's Job runs, a pass reads neither the
// volume (for a Direct source, a GET of the user's PVC) nor anything else past the Job; once the
// Job finished, the volume is read again, since a destination publishes its image from it.
func TestARunningMoverIsLookedAtWithoutItsVolume(t *testing.T) {
	scheme := testScheme(t)
	rs := owner()
	rs.Status.ActiveSync = &volsyncv1alpha1.ActiveSync{Trigger: "Manual", Attempt: 1, StartTime: metav1.Now()}
	status := &rs.Status.ReplicationStatus
	running := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "volsync-test-src-db", Namespace: rs.Namespace}}
	if err := controllerutil.SetControllerReference(rs, running, scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(running).WithStatusSubresource(running).Build()

	reads := 0
	flow := &Flow{
		Client: c, Owner: rs, Status: status, Direct: true,
		Config: volsyncv1alpha1.MoverConfig{MoverServiceAccount: ptr.To("user-account")},
		Volume: func(context.Context) (*corev1.PersistentVolumeClaim, time.Duration, error) {
			reads++
			return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: rs.Namespace}}, 0, nil
		},
		Spec: func(pvc *corev1.PersistentVolumeClaim) Spec {
			return Spec{Owner: rs, Name: running.Name, Image: "mover", Volumes: []Volume{DataVolume(pvc, true)}}
		},
	}
	ctx := context.Background()
	res, err := flow.Synchronize(ctx)
	if err != nil || res.Completed || res.Started {
		t.Fatalf("pass over a running Job: %+v, %v; want in progress", res, err)
	}
	if reads != 0 {
		t.Errorf("the volume was read %d time(s) while the Job ran; want none", reads)
	}

	// Paused while it runs: the Job is held (parallelism 0), still without reading the volume.
	rs.Spec.Paused = true
	flow.Spec = func(pvc *corev1.PersistentVolumeClaim) Spec {
		return Spec{Owner: rs, Name: running.Name, Image: "mover", Paused: true, Volumes: []Volume{DataVolume(pvc, true)}}
	}
	if _, err := flow.Synchronize(ctx); err != nil {
		t.Fatal(err)
	}
	var held batchv1.Job
	if err := c.Get(ctx, client.ObjectKeyFromObject(running), &held); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(held.Spec.Parallelism, 1) != 0 || reads != 0 {
		t.Errorf("paused: parallelism %v and %d volume read(s); want 0 and none", held.Spec.Parallelism, reads)
	}

	held.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	if err := c.Status().Update(ctx, &held); err != nil {
		t.Fatal(err)
	}
	res, err = flow.Synchronize(ctx)
	if err != nil || !res.Completed {
		t.Fatalf("pass over the finished Job: %+v, %v; want complete", res, err)
	}
	if reads != 1 {
		t.Errorf("the volume was read %d time(s) for the finished Job; want 1", reads)
	}
}

// TestWhatWasReadAheadIsTheTriggersFirstReads: after ReadAhead, the pass that creates the Job reads
// neither the source PVC nor the Secret again; what was read ahead serves one pass, and only while it
// is recent; a Secret found missing ahead is still reported by the pass.
func TestWhatWasReadAheadIsTheTriggersFirstReads(t *testing.T) {
	scheme := testScheme(t)
	rs := owner()
	rs.Spec.SourcePVC = "data"
	rs.Status.ActiveSync = &volsyncv1alpha1.ActiveSync{Trigger: "Schedule", Attempt: 1, StartTime: metav1.Now()}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: rs.Namespace}}
	key := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "psk", Namespace: rs.Namespace}}
	gets := map[string]int{}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(rs, pvc, key).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			switch obj.(type) {
			case *corev1.PersistentVolumeClaim:
				gets["pvc"]++
			case *metav1.PartialObjectMetadata:
				gets["secret"]++
			}
			return c.Get(ctx, k, obj, opts...)
		},
	}).Build()
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))
	src := &volume.Source{Client: c, Clock: clk, Owner: rs}
	flow := &Flow{
		Client: c, Owner: rs, Status: &rs.Status.ReplicationStatus, Clock: clk,
		Config: volsyncv1alpha1.MoverConfig{MoverServiceAccount: ptr.To("user-account")},
		Volume: src.PVC, ReadVolume: src.Read,
		Spec: func(pvc *corev1.PersistentVolumeClaim) Spec {
			return Spec{Owner: rs, Name: "volsync-test-src-db", Image: "mover", Volumes: []Volume{
				DataVolume(pvc, true), SecretVolume("keys", key.Name, KeysMountPath),
			}}
		},
	}
	ctx := context.Background()
	create := func(what string, wantGets map[string]int) {
		t.Helper()
		clear(gets)
		res, err := flow.Synchronize(ctx)
		if err != nil || !res.Started {
			t.Fatalf("%s: %+v, %v; want the Job created", what, res, err)
		}
		if gets["pvc"] != wantGets["pvc"] || gets["secret"] != wantGets["secret"] {
			t.Errorf("%s: %d PVC and %d Secret GET(s) before the Job; want %d and %d", what, gets["pvc"], gets["secret"], wantGets["pvc"], wantGets["secret"])
		}
		if err := c.DeleteAllOf(ctx, &batchv1.Job{}, client.InNamespace(rs.Namespace)); err != nil {
			t.Fatal(err)
		}
	}

	if err := flow.ReadAhead(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Step(ReadAheadMaxAge / 2)
	create("read ahead", map[string]int{})
	create("read ahead, used once already", map[string]int{"pvc": 1, "secret": 1})

	if err := flow.ReadAhead(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Step(ReadAheadMaxAge + time.Second)
	create("read ahead too long ago", map[string]int{"pvc": 1, "secret": 1})

	if err := c.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := flow.ReadAhead(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := flow.Synchronize(ctx); err == nil || !strings.Contains(err.Error(), `Secret "psk"`) {
		t.Fatalf("a Secret missing when read ahead: %v; want it reported", err)
	}
}

// TestAReadAheadNoTriggerTookIsLetGo: what was read for an owner whose trigger never came (deleted or
// paused in the last seconds) does not stay in volsyncd's memory once it is too old to be used.
func TestAReadAheadNoTriggerTookIsLetGo(t *testing.T) {
	s := &aheadStore{m: map[types.UID]readAhead{}}
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	s.put("gone", readAhead{at: at})
	s.put("soon", readAhead{at: at.Add(ReadAheadMaxAge)})
	s.put("next", readAhead{at: at.Add(ReadAheadMaxAge + time.Second)})
	if _, ok := s.m["gone"]; ok || len(s.m) != 2 {
		t.Fatalf("kept %v; want the two recent ones alone", slices.Collect(maps.Keys(s.m)))
	}
	if _, ok := s.take("soon", at.Add(ReadAheadMaxAge+time.Second)); !ok {
		t.Error("a read-ahead within its age was not taken")
	}
	if _, ok := s.take("soon", at.Add(ReadAheadMaxAge+time.Second)); ok {
		t.Error("a read-ahead was taken twice")
	}
}
