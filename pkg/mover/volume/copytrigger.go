package volume

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

const (
	// CopyTriggerTimeout is how long volsync waits for a copy trigger before it warns. It keeps
	// waiting after the warning.
	CopyTriggerTimeout = 10 * time.Minute
	// CopyTriggerPoll is how often a source waiting for its copy trigger reads the PVC again.
	// volsyncd does not watch users' PVCs (cachepolicy): a watch on every PVC in the cluster
	// would cost memory in proportion to the cluster, for the few sources that wait.
	CopyTriggerPoll = 5 * time.Second
)

// UsesCopyTrigger says whether pvc asks volsync to wait for a copy trigger.
func UsesCopyTrigger(pvc *corev1.PersistentVolumeClaim) bool {
	_, ok := pvc.Annotations[volsyncv1alpha1.UseCopyTriggerAnnotation]
	return ok
}

// copyTriggerAllows runs the handshake before the copy is made. It returns true once the user set a
// copy-trigger value not yet used; until then it shows WaitingForTrigger and, after
// CopyTriggerTimeout, warns in latestMoverStatus and an Event.
func (s *Source) copyTriggerAllows(ctx context.Context, src *corev1.PersistentVolumeClaim) (bool, time.Duration, error) {
	if !UsesCopyTrigger(src) {
		return true, 0, nil
	}
	now := s.now()
	ann := src.Annotations
	if ann[volsyncv1alpha1.LatestCopyStatusAnnotation] != volsyncv1alpha1.CopyStatusWaitingForTrigger && ann[volsyncv1alpha1.LatestCopyStatusAnnotation] != volsyncv1alpha1.CopyStatusInProgress {
		// A new sync: start waiting for a trigger, from now.
		return false, CopyTriggerPoll, s.annotate(ctx, src, map[string]string{
			volsyncv1alpha1.LatestCopyStatusAnnotation:              volsyncv1alpha1.CopyStatusWaitingForTrigger,
			volsyncv1alpha1.LatestCopyTriggerWaitingSinceAnnotation: now.UTC().Format(time.RFC3339),
		})
	}
	trigger := ann[volsyncv1alpha1.CopyTriggerAnnotation]
	if trigger != "" && trigger != ann[volsyncv1alpha1.LatestCopyTriggerAnnotation] {
		if ann[volsyncv1alpha1.LatestCopyStatusAnnotation] != volsyncv1alpha1.CopyStatusInProgress {
			if err := s.annotate(ctx, src, map[string]string{volsyncv1alpha1.LatestCopyStatusAnnotation: volsyncv1alpha1.CopyStatusInProgress}); err != nil {
				return false, 0, err
			}
		}
		return true, 0, nil
	}
	since, err := time.Parse(time.RFC3339, ann[volsyncv1alpha1.LatestCopyTriggerWaitingSinceAnnotation])
	if err != nil {
		since = now
		if err := s.annotate(ctx, src, map[string]string{volsyncv1alpha1.LatestCopyTriggerWaitingSinceAnnotation: now.UTC().Format(time.RFC3339)}); err != nil {
			return false, 0, err
		}
	}
	waited := now.Sub(since)
	if waited < CopyTriggerTimeout {
		return false, min(CopyTriggerPoll, CopyTriggerTimeout-waited), nil
	}
	// Whole minutes, so that the status changes once a minute rather than at every poll.
	msg := fmt.Sprintf("waited %s for a new value of the %s annotation on PVC %s (the last one used was %q); the sync goes on waiting",
		waited.Truncate(time.Minute), volsyncv1alpha1.CopyTriggerAnnotation, src.Name, ann[volsyncv1alpha1.LatestCopyTriggerAnnotation])
	st := &s.Owner.Status.ReplicationStatus
	if st.LatestMoverStatus == nil || st.LatestMoverStatus.Logs != msg {
		if st.LatestMoverStatus == nil || st.LatestMoverStatus.Logs == "" || !isCopyTriggerMessage(st.LatestMoverStatus.Logs) {
			s.event(true, ReasonCopyTriggerTimeout, msg)
		}
		st.LatestMoverStatus = &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultFailed, Logs: msg}
	}
	return false, CopyTriggerPoll, nil
}

func isCopyTriggerMessage(s string) bool {
	return strings.HasPrefix(s, "waited ") && strings.Contains(s, volsyncv1alpha1.CopyTriggerAnnotation)
}

// copyDone finishes the handshake once the copy exists: Completed, and the trigger it used.
func (s *Source) copyDone(ctx context.Context, src *corev1.PersistentVolumeClaim) error {
	if !UsesCopyTrigger(src) || src.Annotations[volsyncv1alpha1.LatestCopyStatusAnnotation] == volsyncv1alpha1.CopyStatusCompleted {
		return nil
	}
	return s.annotate(ctx, src, map[string]string{
		volsyncv1alpha1.LatestCopyStatusAnnotation:  volsyncv1alpha1.CopyStatusCompleted,
		volsyncv1alpha1.LatestCopyTriggerAnnotation: src.Annotations[volsyncv1alpha1.CopyTriggerAnnotation],
	})
}

func (s *Source) annotate(ctx context.Context, pvc *corev1.PersistentVolumeClaim, set map[string]string) error {
	patch := client.MergeFrom(pvc.DeepCopy())
	if pvc.Annotations == nil {
		pvc.Annotations = map[string]string{}
	}
	for k, v := range set {
		pvc.Annotations[k] = v
	}
	if err := s.Client.Patch(ctx, pvc, patch); err != nil {
		return fmt.Errorf("annotating source PVC %s: %w", pvc.Name, err)
	}
	return nil
}
