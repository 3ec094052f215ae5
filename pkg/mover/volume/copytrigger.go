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

// Copy-trigger annotations on the source PVC (seed 001). The user sets the first two; volsync
// writes the others.
const (
	AnnotationUseCopyTrigger         = "volsync.backube/use-copy-trigger"
	AnnotationCopyTrigger            = "volsync.backube/copy-trigger"
	AnnotationLatestCopyStatus       = "volsync.backube/latest-copy-status"
	AnnotationLatestCopyTrigger      = "volsync.backube/latest-copy-trigger"
	AnnotationLatestCopyWaitingSince = "volsync.backube/latest-copy-trigger-waiting-since"
	CopyStatusWaitingForTrigger      = "WaitingForTrigger"
	CopyStatusInProgress             = "InProgress"
	CopyStatusCompleted              = "Completed"
	// CopyTriggerTimeout is how long volsync waits for a copy trigger before it warns. It keeps
	// waiting after the warning.
	CopyTriggerTimeout = 10 * time.Minute
)

// UsesCopyTrigger says whether pvc asks volsync to wait for a copy trigger.
func UsesCopyTrigger(pvc *corev1.PersistentVolumeClaim) bool {
	_, ok := pvc.Annotations[AnnotationUseCopyTrigger]
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
	if ann[AnnotationLatestCopyStatus] != CopyStatusWaitingForTrigger && ann[AnnotationLatestCopyStatus] != CopyStatusInProgress {
		// A new sync: start waiting for a trigger, from now.
		return false, CopyTriggerTimeout, s.annotate(ctx, src, map[string]string{
			AnnotationLatestCopyStatus:       CopyStatusWaitingForTrigger,
			AnnotationLatestCopyWaitingSince: now.UTC().Format(time.RFC3339),
		})
	}
	trigger := ann[AnnotationCopyTrigger]
	if trigger != "" && trigger != ann[AnnotationLatestCopyTrigger] {
		if ann[AnnotationLatestCopyStatus] != CopyStatusInProgress {
			if err := s.annotate(ctx, src, map[string]string{AnnotationLatestCopyStatus: CopyStatusInProgress}); err != nil {
				return false, 0, err
			}
		}
		return true, 0, nil
	}
	since, err := time.Parse(time.RFC3339, ann[AnnotationLatestCopyWaitingSince])
	if err != nil {
		since = now
		if err := s.annotate(ctx, src, map[string]string{AnnotationLatestCopyWaitingSince: now.UTC().Format(time.RFC3339)}); err != nil {
			return false, 0, err
		}
	}
	waited := now.Sub(since)
	if waited < CopyTriggerTimeout {
		return false, CopyTriggerTimeout - waited, nil
	}
	msg := fmt.Sprintf("waited %s for a new value of the %s annotation on PVC %s (the last one used was %q); the sync goes on waiting",
		waited.Truncate(time.Second), AnnotationCopyTrigger, src.Name, ann[AnnotationLatestCopyTrigger])
	st := &s.Owner.Status.ReplicationStatus
	if st.LatestMoverStatus == nil || st.LatestMoverStatus.Logs != msg {
		if st.LatestMoverStatus == nil || st.LatestMoverStatus.Logs == "" || !isCopyTriggerMessage(st.LatestMoverStatus.Logs) {
			s.event(true, ReasonCopyTriggerTimeout, msg)
		}
		st.LatestMoverStatus = &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultFailed, Logs: msg}
	}
	// Look again each minute so the message shows how long the wait has been.
	return false, time.Minute, nil
}

func isCopyTriggerMessage(s string) bool {
	return strings.HasPrefix(s, "waited ") && strings.Contains(s, AnnotationCopyTrigger)
}

// copyDone finishes the handshake once the copy exists: Completed, and the trigger it used.
func (s *Source) copyDone(ctx context.Context, src *corev1.PersistentVolumeClaim) error {
	if !UsesCopyTrigger(src) || src.Annotations[AnnotationLatestCopyStatus] == CopyStatusCompleted {
		return nil
	}
	return s.annotate(ctx, src, map[string]string{
		AnnotationLatestCopyStatus:  CopyStatusCompleted,
		AnnotationLatestCopyTrigger: src.Annotations[AnnotationCopyTrigger],
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
