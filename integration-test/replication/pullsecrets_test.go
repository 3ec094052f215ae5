package replication

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cachepolicy"
	"github.com/volsync/volsync/pkg/mover"
	moverjob "github.com/volsync/volsync/pkg/mover/job"
	"github.com/volsync/volsync/pkg/mover/rclone"
	"github.com/volsync/volsync/pkg/replication"
)

// pullSecretsManager starts a manager of the test's own, as volsyncd runs with
// --mover-image-pull-secrets: it caches (as cachepolicy says) namespace ns and volsyncd's namespace
// pullNs alone, and its reconcilers run one rclone Builder with pull secrets names of pullNs. It
// stops when the test ends, or when the returned func is called.
func pullSecretsManager(t *testing.T, ns, pullNs string, names ...string) func() {
	t.Helper()
	builders := []mover.Builder{&rclone.Builder{Settings: moverjob.Settings{Image: moverImage, Clock: fakeClock, PullSecrets: moverjob.PullSecrets{Namespace: pullNs, Names: names}}}}
	cacheOpts := cachepolicy.Options()
	cacheOpts.DefaultNamespaces = map[string]cache.Config{ns: {}, pullNs: {}}
	_, stop, err := testenv.StartManager(env.Config, ctrl.Options{
		Cache: cacheOpts, NewClient: cachepolicy.NewClient,
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	},
		func(mgr ctrl.Manager) error {
			return (&replication.SourceReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync"), Clock: fakeClock, Builders: builders}).SetupWithManager(mgr)
		},
		func(mgr ctrl.Manager) error {
			return (&replication.DestinationReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync"), Clock: fakeClock, Builders: builders}).SetupWithManager(mgr)
		},
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return stop
}

func dockerConfig(ns, name, auth string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"reg.example":{"auth":"` + auth + `"}}}`)},
	}
}

// waitCopy waits for owner's copy of the pull Secret src to hold src's data, and checks it is
// labelled and controlled by owner (so that the garbage collector removes it with owner).
func waitCopy(t *testing.T, owner client.Object, src *corev1.Secret) *corev1.Secret {
	t.Helper()
	var cp corev1.Secret
	eventually(t, wait, func() error {
		key := client.ObjectKey{Namespace: owner.GetNamespace(), Name: moverjob.PullSecretName(owner, src.Name)}
		if err := k8s.Get(context.Background(), key, &cp); err != nil {
			return err
		}
		if !bytes.Equal(cp.Data[corev1.DockerConfigJsonKey], src.Data[corev1.DockerConfigJsonKey]) {
			return fmt.Errorf("copy %s holds %s", cp.Name, cp.Data[corev1.DockerConfigJsonKey])
		}
		return nil
	})
	if cp.Type != corev1.SecretTypeDockerConfigJson {
		t.Errorf("copy %s is of type %s", cp.Name, cp.Type)
	}
	if cp.Labels[volsyncv1alpha1.CreatedByLabel] != volsyncv1alpha1.CreatedByValue {
		t.Errorf("copy %s is not labelled as volsync's (volsyncd would not cache it): %v", cp.Name, cp.Labels)
	}
	if ref := metav1.GetControllerOf(&cp); ref == nil || ref.UID != owner.GetUID() || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("copy %s is not controlled by %s: %+v", cp.Name, owner.GetName(), cp.OwnerReferences)
	}
	if got, want := cp.Annotations[moverjob.AnnotationPullSecretFrom], src.Namespace+"/"+src.Name; got != want {
		t.Errorf("copy %s says it is from %q, want %q", cp.Name, got, want)
	}
	return &cp
}

func names(refs []corev1.LocalObjectReference) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.Name)
	}
	return out
}

func TestMoverImagePullSecretsAreCopiedNamedAndOwned(t *testing.T) {
	ns := namespace(t, false)
	pullNs := bareNamespace(t, false)
	regcred := dockerConfig(pullNs, "regcred", "dXNlcjpwdw==")
	create(t, regcred)
	pullSecretsManager(t, ns, pullNs, "regcred", "mirror")
	sourcePVC(t, ns, "data", nil)

	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: ns, Labels: map[string]string{ownManagerLabel: "true"}},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "data", Rclone: &volsyncv1alpha1.ReplicationSourceRcloneSpec{
			RcloneConfig: ptr.To("rclone-secret"), RcloneConfigSection: ptr.To("s3"), RcloneDestPath: ptr.To("bucket/db"),
		}},
	}
	create(t, rs)

	// A pull Secret the setting names but that does not exist: the sync waits, and says why.
	waitReason(t, rs, mover.ReasonSecretNotFound)
	if c := synchronizing(&rs.Status.ReplicationStatus); !strings.Contains(c.Message, `"mirror"`) || !strings.Contains(c.Message, pullNs) {
		t.Errorf("condition message %q does not name the missing pull Secret", c.Message)
	}
	if note := waitEvent(t, ns, rs.Name, mover.ReasonSecretNotFound); !strings.Contains(note, "mirror") {
		t.Errorf("event %q does not name the missing pull Secret", note)
	}
	noJob(t, ns, mover.ObjectName("rclone-src", rs.Name))

	// Once it exists the sync goes on: both are copied and on volsync's service account.
	mirror := dockerConfig(pullNs, "mirror", "bWlycm9yOnB3")
	create(t, mirror)
	poke(t, rs)
	j := waitJob(t, ns, mover.ObjectName("rclone-src", rs.Name), "")
	get(t, rs)
	copies := []string{waitCopy(t, rs, regcred).Name, waitCopy(t, rs, mirror).Name}
	sa := get(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: j.Spec.Template.Spec.ServiceAccountName}})
	if got := names(sa.ImagePullSecrets); !slices.Equal(got, copies) {
		t.Errorf("service account %s has imagePullSecrets %v, want %v", sa.Name, got, copies)
	}
	if got := j.Spec.Template.Spec.ImagePullSecrets; len(got) != 0 {
		t.Errorf("the pod names %v itself; its service account carries them", got)
	}

	// A changed pull Secret is copied again.
	regcred.Data[corev1.DockerConfigJsonKey] = []byte(`{"auths":{"reg.example":{"auth":"bmV3OnB3"}}}`)
	if err := k8s.Update(context.Background(), regcred); err != nil {
		t.Fatal(err)
	}
	poke(t, rs)
	waitCopy(t, rs, regcred)
}

func TestPullSecretsGoOnThePodOfAUsersServiceAccount(t *testing.T) {
	ns := namespace(t, false)
	pullNs := bareNamespace(t, false)
	regcred := dockerConfig(pullNs, "regcred", "dXNlcjpwdw==")
	create(t, regcred)
	pullSecretsManager(t, ns, pullNs, "regcred")
	mine := &corev1.ServiceAccount{
		ObjectMeta:       metav1.ObjectMeta{Name: "mine", Namespace: ns},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "users-cred"}},
	}
	create(t, mine)

	rd := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: metav1.ObjectMeta{Name: "restore", Namespace: ns, Labels: map[string]string{ownManagerLabel: "true"}},
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{Rclone: &volsyncv1alpha1.ReplicationDestinationRcloneSpec{
			RcloneConfig: ptr.To("rclone-secret"), RcloneConfigSection: ptr.To("s3"), RcloneDestPath: ptr.To("bucket/db"),
			ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{
				CopyMethod: volsyncv1alpha1.CopyMethodDirect, DestinationPVC: ptr.To("restored"),
			},
			MoverConfig: volsyncv1alpha1.MoverConfig{MoverServiceAccount: ptr.To("mine")},
		}},
	}
	sourcePVC(t, ns, "restored", nil)
	create(t, rd)
	j := waitJob(t, ns, mover.ObjectName("rclone-dst", rd.Name), "")
	get(t, rd)
	cp := waitCopy(t, rd, regcred)
	if !strings.HasPrefix(cp.Name, "volsync-pull-dst-") {
		t.Errorf("a destination's copy is named %s", cp.Name)
	}
	pod := j.Spec.Template.Spec
	if pod.ServiceAccountName != "mine" {
		t.Fatalf("the pod runs as %s", pod.ServiceAccountName)
	}
	// The pod names the copy and the account's own, which a pod that names any would lose.
	if got, want := names(pod.ImagePullSecrets), []string{"users-cred", cp.Name}; !slices.Equal(got, want) {
		t.Errorf("the pod's imagePullSecrets are %v, want %v", got, want)
	}
	// The user's account is theirs: unchanged.
	if got := names(get(t, mine).ImagePullSecrets); !slices.Equal(got, []string{"users-cred"}) {
		t.Errorf("the user's service account was changed: imagePullSecrets %v", got)
	}
}

func TestPullSecretsNoLongerNamedAreRemoved(t *testing.T) {
	ns := namespace(t, false)
	pullNs := bareNamespace(t, false)
	regcred, mirror := dockerConfig(pullNs, "regcred", "dXNlcjpwdw=="), dockerConfig(pullNs, "mirror", "bWlycm9yOnB3")
	create(t, regcred)
	create(t, mirror)
	stop := pullSecretsManager(t, ns, pullNs, "regcred", "mirror")
	sourcePVC(t, ns, "data", nil)
	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: ns, Labels: map[string]string{ownManagerLabel: "true"}},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "data", Rclone: &volsyncv1alpha1.ReplicationSourceRcloneSpec{
			RcloneConfig: ptr.To("rclone-secret"), RcloneConfigSection: ptr.To("s3"), RcloneDestPath: ptr.To("bucket/db"),
		}},
	}
	create(t, rs)
	j := waitJob(t, ns, mover.ObjectName("rclone-src", rs.Name), "")
	get(t, rs)
	kept, dropped := waitCopy(t, rs, regcred), waitCopy(t, rs, mirror)
	// Someone else's entry on volsync's account (a platform's registry Secret) stays.
	sa := get(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: j.Spec.Template.Spec.ServiceAccountName}})
	sa.ImagePullSecrets = append([]corev1.LocalObjectReference{{Name: "platform-dockercfg"}}, sa.ImagePullSecrets...)
	if err := k8s.Update(context.Background(), sa); err != nil {
		t.Fatal(err)
	}

	// volsyncd restarts without mirror in --mover-image-pull-secrets.
	stop()
	pullSecretsManager(t, ns, pullNs, "regcred")
	poke(t, rs)
	eventually(t, wait, func() error {
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(dropped), &corev1.Secret{})
		if err == nil {
			return fmt.Errorf("the copy %s of a pull Secret no longer named is still there", dropped.Name)
		}
		if got, want := names(get(t, sa).ImagePullSecrets), []string{"platform-dockercfg", kept.Name}; !slices.Equal(got, want) {
			return fmt.Errorf("service account imagePullSecrets %v, want %v", got, want)
		}
		return client.IgnoreNotFound(err)
	})
	waitCopy(t, rs, regcred)
}
