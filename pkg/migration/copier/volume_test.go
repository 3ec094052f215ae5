package copier

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func persistentVolume(t *testing.T, policy corev1.PersistentVolumeReclaimPolicy, annotations map[string]string) *unstructured.Unstructured {
	t.Helper()
	pv := &corev1.PersistentVolume{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
		ObjectMeta: metav1.ObjectMeta{Name: "pv-1", UID: "u-1", ResourceVersion: "9", Annotations: annotations,
			Finalizers: []string{"kubernetes.io/pv-protection"}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeReclaimPolicy: policy,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: "shop", Name: "data", UID: "c-1", ResourceVersion: "7"},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "fabric.example.com", VolumeHandle: "h-1"}},
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pv)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func TestPreparePersistentVolume(t *testing.T) {
	for _, tc := range []struct {
		name         string
		policy       corev1.PersistentVolumeReclaimPolicy
		annotations  map[string]string
		mapping      NamespaceMapping
		wantOriginal string
		wantClaimNS  string
	}{
		{"a Delete volume is Retain on the destination and remembers Delete", corev1.PersistentVolumeReclaimDelete, nil, nil, "Delete", "shop"},
		{"a Retain volume stays Retain and remembers Retain", corev1.PersistentVolumeReclaimRetain, nil, nil, "Retain", "shop"},
		{"a copy of a copy keeps the policy it was first copied from", corev1.PersistentVolumeReclaimRetain,
			map[string]string{volsyncv1alpha1.OriginalReclaimPolicyAnnotation: "Delete"}, nil, "Delete", "shop"},
		{"the claim follows the namespace mapping", corev1.PersistentVolumeReclaimDelete, nil, NamespaceMapping{"shop": "shop-dr"}, "Delete", "shop-dr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := PreparePersistentVolume(persistentVolume(t, tc.policy, tc.annotations), Options{SourceCluster: sourceID, NamespaceMapping: tc.mapping})
			if err != nil {
				t.Fatal(err)
			}
			var pv corev1.PersistentVolume
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(out.Object, &pv); err != nil {
				t.Fatal(err)
			}
			if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
				t.Errorf("reclaim policy %s, want Retain", pv.Spec.PersistentVolumeReclaimPolicy)
			}
			if got := pv.Annotations[volsyncv1alpha1.OriginalReclaimPolicyAnnotation]; got != tc.wantOriginal {
				t.Errorf("original reclaim policy %q, want %q", got, tc.wantOriginal)
			}
			if r := pv.Spec.ClaimRef; r == nil || r.Namespace != tc.wantClaimNS || r.Name != "data" || r.UID != "" || r.ResourceVersion != "" {
				t.Errorf("claimRef %+v, want %s/data by name only", r, tc.wantClaimNS)
			}
			if pv.UID != "" || pv.ResourceVersion != "" || len(pv.Finalizers) != 0 || pv.Status.Phase != "" {
				t.Errorf("source identity or status kept: %+v", pv.ObjectMeta)
			}
			if pv.Spec.CSI == nil || pv.Spec.CSI.VolumeHandle != "h-1" || pv.Labels[volsyncv1alpha1.MigratedFromLabel] != sourceID {
				t.Errorf("volume source %+v, labels %v", pv.Spec.PersistentVolumeSource, pv.Labels)
			}
		})
	}
}

func TestPrepareMarksAStaticCopyAndNeverCarriesActivation(t *testing.T) {
	ns := &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Annotations: map[string]string{
			volsyncv1alpha1.ApplicationActivatedAnnotation: "2024-03-09T12:00:00Z",
			volsyncv1alpha1.DrillAnnotation:                "x",
			"team":                                         "payments",
		}},
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ns)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Prepare(&unstructured.Unstructured{Object: m}, Options{
		SourceCluster: sourceID, MigratedBy: "ops/nightly", MigratedByKind: "MigrationSchedule", ClusterPair: "dr",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"team":                                            "payments",
		volsyncv1alpha1.MigratedByAnnotation:              "ops/nightly",
		volsyncv1alpha1.MigratedByKindAnnotation:          "MigrationSchedule",
		volsyncv1alpha1.MigratedWithClusterPairAnnotation: "dr",
	}
	got := out.GetAnnotations()
	if len(got) != len(want) {
		t.Errorf("annotations %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestAClaimKeepsItsVolumeNameOnlyWhenTheStorageIsShared(t *testing.T) {
	pvc := &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop"},
		Spec:       corev1.PersistentVolumeClaimSpec{VolumeName: "pv-1"},
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pvc)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []bool{false, true} {
		out, err := Prepare(&unstructured.Unstructured{Object: m}, Options{KeepVolumeName: keep})
		if err != nil {
			t.Fatal(err)
		}
		got, _, _ := unstructured.NestedString(out.Object, "spec", "volumeName")
		if (got == "pv-1") != keep {
			t.Errorf("KeepVolumeName %v: volumeName %q", keep, got)
		}
	}
}
