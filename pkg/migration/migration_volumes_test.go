package migration

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestVolumeObjectNamesAreStableAndShort(t *testing.T) {
	hash := shortHash("app-interval-2024-03-09-120000")
	if got := volumeObjectName("app-interval-2024-03-09-120000", "data"); got != "volsync-mig-data-"+hash {
		t.Errorf("volumeObjectName(data) = %q", got)
	}
	if got := volumeKeyName("app-interval-2024-03-09-120000", "data"); got != "volsync-mig-data-"+hash+"-key" {
		t.Errorf("volumeKeyName(data) = %q", got)
	}
	if volumeObjectName("app-drill", "data") == volumeObjectName("app-interval-2024-03-09-120000", "data") {
		t.Error("two Migrations of one PVC got the same object name")
	}
	long := strings.Repeat("a", 60)
	other := strings.Repeat("a", 59) + "b"
	for _, name := range []func(string, string) string{volumeObjectName, volumeKeyName} {
		got := name("m", long)
		if len(got) > maxObjectName || got != name("m", long) || got == name("m", other) || !strings.HasPrefix(got, volumeObjectPrefix) {
			t.Errorf("%q (%d characters) for a 60-character PVC name; for another: %q", got, len(got), name("m", other))
		}
	}
	if !strings.HasSuffix(volumeKeyName("m", long), "-key") {
		t.Errorf("volumeKeyName(long) = %q, want the -key suffix", volumeKeyName("m", long))
	}
}

func TestVolumeOptionsComeFromTheClusterPair(t *testing.T) {
	pair := func(opts map[string]string) *migrationRun {
		return &migrationRun{pair: &volsyncv1alpha1.ClusterPair{ObjectMeta: metav1.ObjectMeta{Name: "dr"}, Spec: volsyncv1alpha1.ClusterPairSpec{Options: opts}}}
	}
	o, err := pair(nil).volumeOptions()
	if err != nil || o.serviceType != corev1.ServiceTypeLoadBalancer || o.copyMethod != volsyncv1alpha1.CopyMethodClone {
		t.Errorf("defaults = %+v, %v", o, err)
	}
	o, err = pair(map[string]string{OptionVolumeServiceType: "ClusterIP", OptionVolumeCopyMethod: "Direct"}).volumeOptions()
	if err != nil || o.serviceType != corev1.ServiceTypeClusterIP || o.copyMethod != volsyncv1alpha1.CopyMethodDirect {
		t.Errorf("ClusterIP/Direct = %+v, %v", o, err)
	}
	if _, err := pair(map[string]string{OptionVolumeServiceType: "NodePort"}).volumeOptions(); err == nil || !strings.Contains(err.Error(), "volumeServiceType") {
		t.Errorf("NodePort: %v", err)
	}
	if _, err := pair(map[string]string{OptionVolumeCopyMethod: "Teleport"}).volumeOptions(); err == nil || !strings.Contains(err.Error(), "volumeCopyMethod") {
		t.Errorf("Teleport: %v", err)
	}
}
