package job

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func refs(names ...string) []corev1.LocalObjectReference {
	var out []corev1.LocalObjectReference
	for _, n := range names {
		out = append(out, corev1.LocalObjectReference{Name: n})
	}
	return out
}

func TestPullSecretNamesAreDeterministicAndApart(t *testing.T) {
	rs := &volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "app"}}
	rd := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "app"}}
	a, b := PullSecretName(rs, "regcred"), PullSecretName(rs, "regcred")
	if a != b || !strings.HasPrefix(a, "volsync-pull-src-") || !strings.HasSuffix(a, "-db") {
		t.Errorf("names %q, %q", a, b)
	}
	if PullSecretName(rd, "regcred") == a || !strings.HasPrefix(PullSecretName(rd, "regcred"), "volsync-pull-dst-") {
		t.Errorf("a source and a destination of one name share %q", a)
	}
	if PullSecretName(rs, "other") == a {
		t.Error("two pull secrets share a copy")
	}
	long := &volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("x", 250)}}
	if n := PullSecretName(long, "regcred"); len(n) > 63 {
		t.Errorf("%q is longer than 63", n)
	}
}

func TestServiceAndPodPullSecrets(t *testing.T) {
	// Someone else's entries on volsync's account stay; volsync's own are replaced.
	got := servicePullSecrets(refs("platform-dockercfg", "volsync-pull-src-0000-old"), refs("volsync-pull-src-1111-db"))
	if want := refs("platform-dockercfg", "volsync-pull-src-1111-db"); !reflect.DeepEqual(got, want) {
		t.Errorf("service account %v, want %v", got, want)
	}
	if got := servicePullSecrets(refs("volsync-pull-src-0000-old"), nil); len(got) != 0 {
		t.Errorf("a setting taken away leaves %v", got)
	}
	// A pod that names pull secrets loses its account's, so they are named as well.
	got = podPullSecrets(refs("users-cred", "volsync-pull-src-1111-db"), refs("volsync-pull-src-1111-db", "volsync-pull-src-2222-db"))
	if want := refs("users-cred", "volsync-pull-src-1111-db", "volsync-pull-src-2222-db"); !reflect.DeepEqual(got, want) {
		t.Errorf("pod %v, want %v", got, want)
	}
}
