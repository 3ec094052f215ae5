package job

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
)

// PullSecrets is volsyncd's mover image pull secrets setting (--mover-image-pull-secrets): Secrets
// of Namespace (volsyncd's own by default) that every mover pod may pull its image with. Each is
// copied into the mover's namespace, for the owner, as PullSecretName says.
type PullSecrets struct {
	// Namespace holds the Secrets.
	Namespace string
	// Names of the Secrets, usually of type kubernetes.io/dockerconfigjson.
	Names []string
}

// Labels and annotations of a pull secret copy.
const (
	// LabelPullSecret marks the copies, so that those of Secrets no longer named are found and
	// removed.
	LabelPullSecret = "volsync.backube/mover-pull-secret"
	// AnnotationPullSecretFrom names the Secret a copy was made from, as <namespace>/<name>.
	AnnotationPullSecretFrom = "volsync.backube/pull-secret-from"
)

// pullSecretPrefix starts every copy's name; a service account's imagePullSecrets of this prefix
// are volsync's to change.
const pullSecretPrefix = mover.VolSyncPrefix + "pull-"

// PullSecretName is the copy of the pull Secret source for owner: volsync-pull-<role>-<hash of
// source>-<owner>, with role src or dst, so a source and a destination of the same name, and two
// Secrets, never share a copy (each copy is controlled by one owner).
func PullSecretName(owner client.Object, source string) string {
	sum := sha256.Sum256([]byte(source))
	return mover.ObjectName("pull-"+roleOf(owner)+"-"+hex.EncodeToString(sum[:])[:8], owner.GetName())
}

// roleOf is src or dst, as in the mover's service account name.
func roleOf(owner client.Object) string {
	if _, ok := owner.(*volsyncv1alpha1.ReplicationDestination); ok {
		return "dst"
	}
	return "src"
}

// EnsurePullSecrets copies each pull Secret of p into owner's namespace (creating or updating the
// copy, controlled by owner, so it goes when owner goes) and removes owner's copies of Secrets p no
// longer names. It returns the copies' names for imagePullSecrets. A pull Secret that does not
// exist stops the sync with SecretNotFound until it is created: a mover pod without it would wait
// on its image in silence.
func EnsurePullSecrets(ctx context.Context, c client.Client, owner client.Object, p PullSecrets) ([]corev1.LocalObjectReference, error) {
	var refs []corev1.LocalObjectReference
	want := map[string]bool{}
	for _, name := range p.Names {
		copyName := PullSecretName(owner, name)
		if want[copyName] {
			continue
		}
		if err := ensurePullSecret(ctx, c, owner, p.Namespace, name, copyName); err != nil {
			return nil, err
		}
		want[copyName] = true
		refs = append(refs, corev1.LocalObjectReference{Name: copyName})
	}
	// Copies of Secrets no longer named: they hold credentials the setting took away.
	var copies corev1.SecretList
	if err := c.List(ctx, &copies, client.InNamespace(owner.GetNamespace()),
		client.MatchingLabels{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue, LabelPullSecret: "true"}); err != nil {
		return nil, fmt.Errorf("listing image pull secret copies: %w", err)
	}
	for i := range copies.Items {
		s := &copies.Items[i]
		if want[s.Name] || !metav1.IsControlledBy(s, owner) || s.DeletionTimestamp != nil {
			continue
		}
		if err := c.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("deleting image pull secret copy %s: %w", s.Name, err)
		}
	}
	return refs, nil
}

func ensurePullSecret(ctx context.Context, c client.Client, owner client.Object, namespace, name, copyName string) error {
	var src corev1.Secret
	// Not volsync's, so not in the cache: one GET of the API server.
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &src)
	if apierrors.IsNotFound(err) {
		missing := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
		return mover.Transient(mover.ReasonSecretNotFound, missing,
			"image pull Secret %q, which volsyncd's --mover-image-pull-secrets names, does not exist in namespace %q; create it (or change the setting) and the sync goes on",
			name, namespace)
	}
	if err != nil {
		return fmt.Errorf("reading image pull Secret %s/%s: %w", namespace, name, err)
	}
	from := namespace + "/" + name
	var cp corev1.Secret
	err = c.Get(ctx, client.ObjectKey{Namespace: owner.GetNamespace(), Name: copyName}, &cp)
	if apierrors.IsNotFound(err) {
		cp = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: copyName, Namespace: owner.GetNamespace(),
				Labels:      map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue, LabelPullSecret: "true"},
				Annotations: map[string]string{AnnotationPullSecretFrom: from},
			},
			Type: src.Type,
			Data: src.Data,
		}
		if err := controllerutil.SetControllerReference(owner, &cp, c.Scheme()); err != nil {
			return err
		}
		err = c.Create(ctx, &cp)
		if err == nil {
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating image pull secret copy %s: %w", copyName, err)
		}
		// Made by an earlier pass whose write the cache does not show yet (or by someone else):
		// read it back and check it is ours.
		err = c.Get(ctx, client.ObjectKey{Namespace: owner.GetNamespace(), Name: copyName}, &cp)
	}
	if err != nil {
		return fmt.Errorf("reading image pull secret copy %s: %w", copyName, err)
	}
	if !metav1.IsControlledBy(&cp, owner) {
		return mover.Transient(mover.ReasonNameConflict, &cp,
			"Secret %s exists but was not created for %s; delete or rename it", copyName, owner.GetName())
	}
	if cp.Type != src.Type {
		// A Secret's type cannot change: remove the copy, and the next pass makes it anew.
		if err := c.Delete(ctx, &cp); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting image pull secret copy %s: %w", copyName, err)
		}
		return mover.Transient(mover.ReasonTransientError, &cp, "image pull secret copy %s is being made again: %s changed its type", copyName, from)
	}
	if sameData(cp.Data, src.Data) && cp.Annotations[AnnotationPullSecretFrom] == from {
		return nil
	}
	cp.Data = src.Data
	if cp.Annotations == nil {
		cp.Annotations = map[string]string{}
	}
	cp.Annotations[AnnotationPullSecretFrom] = from
	if err := c.Update(ctx, &cp); err != nil {
		return fmt.Errorf("updating image pull secret copy %s: %w", copyName, err)
	}
	return nil
}

func sameData(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, bytes.Equal)
}

// servicePullSecrets is the imagePullSecrets of volsync's own mover service account: the entries
// someone else put there (such as a platform's registry Secret), then the copies.
func servicePullSecrets(current, copies []corev1.LocalObjectReference) []corev1.LocalObjectReference {
	var out []corev1.LocalObjectReference
	for _, r := range current {
		if !strings.HasPrefix(r.Name, pullSecretPrefix) {
			out = append(out, r)
		}
	}
	return append(out, copies...)
}

// PodPullSecrets is the imagePullSecrets a mover pod names itself: none when it runs as volsync's
// account, which carries the copies (pulls); when it runs as the user's account, which is theirs
// to edit, the account's own and the copies.
func PodPullSecrets(ctx context.Context, c client.Client, owner client.Object, config volsyncv1alpha1.MoverConfig, pulls []corev1.LocalObjectReference) ([]corev1.LocalObjectReference, error) {
	if len(pulls) == 0 || config.MoverServiceAccount == nil || *config.MoverServiceAccount == "" {
		return nil, nil
	}
	own, err := userPullSecrets(ctx, c, owner.GetNamespace(), *config.MoverServiceAccount)
	if err != nil {
		return nil, err
	}
	return podPullSecrets(own, pulls), nil
}

// podPullSecrets is the imagePullSecrets of a mover pod that runs as the user's service account:
// the account's own, then the copies. A pod that names any loses those of its service account
// (the admission plugin adds them only to a pod that names none), so they are named too.
func podPullSecrets(account, copies []corev1.LocalObjectReference) []corev1.LocalObjectReference {
	out := slices.Clone(account)
	for _, r := range copies {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// userPullSecrets reads the user's service account's imagePullSecrets; none when it does not exist
// (the Job's pods then wait for it, as without pull secrets).
func userPullSecrets(ctx context.Context, c client.Client, namespace, name string) ([]corev1.LocalObjectReference, error) {
	var sa corev1.ServiceAccount
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &sa)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading moverServiceAccount %s: %w", name, err)
	}
	return sa.ImagePullSecrets, nil
}
