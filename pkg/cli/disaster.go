package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// The records of the `perform` commands are API: their constants live in the API package.
const (
	ActionFailover              = volsyncv1alpha1.ActionFailover
	ActionFailback              = volsyncv1alpha1.ActionFailback
	ActionDrill                 = volsyncv1alpha1.ActionDrill
	ReasonFailedOver            = volsyncv1alpha1.ReasonFailedOver
	ReasonFailedBack            = volsyncv1alpha1.ReasonFailedBack
	ReasonDrillSucceeded        = volsyncv1alpha1.ReasonDrillSucceeded
	ReasonDrillFailed           = volsyncv1alpha1.ReasonDrillFailed
	FailbackMigrationAnnotation = volsyncv1alpha1.FailbackMigrationAnnotation
	FinalMigrationAnnotation    = volsyncv1alpha1.FinalMigrationAnnotation
)

// ReportingController is the reportingController of the Events volsyncctl writes.
const ReportingController = "volsyncctl"

// eventNoteLimit is the API server's limit on an Event's note.
const eventNoteLimit = 1024

// RunName is the name of a Migration a `perform` command creates: "<schedule>-<purpose>-<UTC
// time as YYYYMMDD-HHMMSS>", the schedule's name cut short when the whole would not be a valid
// object name.
func RunName(schedule, purpose string, at time.Time) string {
	suffix := "-" + purpose + "-" + at.UTC().Format("20060102-150405")
	prefix := schedule[:min(len(schedule), validation.DNS1123SubdomainMaxLength-len(suffix))]
	return strings.TrimRight(prefix, "-.") + suffix
}

// DestinationNamespaces are the namespaces a Migration with spec writes on the destination, in
// the order of spec.namespaces: each through spec.namespaceMapping, or under its own name.
func DestinationNamespaces(spec volsyncv1alpha1.MigrationSpec) []string {
	out := make([]string, 0, len(spec.Namespaces))
	for _, ns := range spec.Namespaces {
		out = append(out, DestinationOf(spec, ns))
	}
	return out
}

// DestinationOf is the namespace the source namespace ns becomes on the destination.
func DestinationOf(spec volsyncv1alpha1.MigrationSpec, ns string) string {
	if d, ok := spec.NamespaceMapping[ns]; ok && d != "" {
		return string(d)
	}
	return ns
}

// ScratchNamespaces are the namespaces a drill copies into: each destination namespace with the
// suffix. A name that is not a namespace name is an error that names it.
func ScratchNamespaces(destination []string, suffix string) ([]string, error) {
	out := make([]string, 0, len(destination))
	for _, ns := range destination {
		scratch := ns + suffix
		if errs := validation.IsDNS1123Label(scratch); len(errs) > 0 {
			return nil, Hint(fmt.Errorf("drill namespace %q (namespace %s with suffix %q) is not a valid namespace name: %s",
				scratch, ns, suffix, strings.Join(errs, "; ")), "pass a shorter --drill-suffix of lower-case letters, digits and '-'")
		}
		out = append(out, scratch)
	}
	return out, nil
}

// HasSuccessfulMigration says whether the schedule has put a complete copy on the destination:
// only then is there something to fail over to.
func HasSuccessfulMigration(ms *volsyncv1alpha1.MigrationSchedule) bool {
	name, _ := NewestSuccess(ms)
	return ms.Status.RecoveryPoint != nil || name != ""
}

// NewestSuccess is the newest Successful Migration the schedule's history lists, and when its
// data was taken: status.recoveryPoint, else the Migration's creation. name is "" when the
// history has none.
func NewestSuccess(ms *volsyncv1alpha1.MigrationSchedule) (name string, takenAt *metav1.Time) {
	var newest *volsyncv1alpha1.ScheduledRun
	for _, runs := range ms.Status.Items {
		for i := range runs {
			r := &runs[i]
			if r.Status != volsyncv1alpha1.RunStatusSuccessful {
				continue
			}
			if newest == nil || newest.CreationTimestamp.Before(&r.CreationTimestamp) {
				newest = r
			}
		}
	}
	takenAt = ms.Status.RecoveryPoint
	if newest != nil {
		name = newest.Name
		if takenAt == nil {
			takenAt = newest.CreationTimestamp.DeepCopy()
		}
	}
	return name, takenAt
}

// RecoveryPointLine is the `recovery point:` line of failover and drill: how old the data the
// destination recovers is, and which Migration took it. Scripts grep for it.
func RecoveryPointLine(migration string, takenAt *metav1.Time, now time.Time) string {
	if takenAt == nil {
		return "recovery point: none yet (the schedule has no successful migration)"
	}
	if migration == "" {
		migration = "unknown"
	}
	age := max(now.Sub(takenAt.Time), 0).Round(time.Second)
	return fmt.Sprintf("recovery point: %s (data of migration %s, taken at %s)", age, migration, Timestamp(takenAt))
}

// DestinationRecoveryPoint is the recovery point the destination namespaces record
// (volsync.backube/recovery-point, written by each successful Migration into them): the oldest
// of them, since a failover starts every namespace from its own copy. at is nil when any of
// them has none.
func DestinationRecoveryPoint(namespaces []*corev1.Namespace) (migration string, at *metav1.Time) {
	for _, ns := range namespaces {
		t, err := time.Parse(time.RFC3339, ns.Annotations[volsyncv1alpha1.RecoveryPointAnnotation])
		if err != nil {
			return "", nil
		}
		if at == nil || t.Before(at.Time) {
			at = &metav1.Time{Time: t}
			migration = ns.Annotations[volsyncv1alpha1.RecoveryPointMigrationAnnotation]
		}
	}
	return migration, at
}

// FeedingSchedule reads, from the annotations of a destination namespace, the MigrationSchedule
// whose Migrations wrote it. ok is false when a single Migration, or nothing, wrote it.
func FeedingSchedule(annotations map[string]string) (namespace, name string, ok bool) {
	if annotations[volsyncv1alpha1.MigratedByKindAnnotation] != "MigrationSchedule" {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(annotations[volsyncv1alpha1.MigratedByAnnotation], "/")
	if !ok || namespace == "" || name == "" {
		return "", "", false
	}
	return namespace, name, true
}

// IsCopyOf says whether a destination namespace was written by the schedule namespace/name.
func IsCopyOf(ns *corev1.Namespace, namespace, name string) bool {
	n, s, ok := FeedingSchedule(ns.Annotations)
	return ok && n == namespace && s == name
}

// WorkloadReady says whether a Deployment or StatefulSet runs as its spec asks: its controller
// has seen the current generation and every wanted replica is ready. waiting says what is
// missing, for the message when the wait gives up.
func WorkloadReady(obj any) (ready bool, waiting string) {
	var want, ready32 int32 = 1, 0
	var generation, observed int64
	var kind, name string
	switch w := obj.(type) {
	case *appsv1.Deployment:
		kind, name, generation, observed, ready32 = "deployment.apps", w.Name, w.Generation, w.Status.ObservedGeneration, w.Status.ReadyReplicas
		if w.Spec.Replicas != nil {
			want = *w.Spec.Replicas
		}
	case *appsv1.StatefulSet:
		kind, name, generation, observed, ready32 = "statefulset.apps", w.Name, w.Generation, w.Status.ObservedGeneration, w.Status.ReadyReplicas
		if w.Spec.Replicas != nil {
			want = *w.Spec.Replicas
		}
	default:
		return true, ""
	}
	switch {
	case observed < generation:
		return false, fmt.Sprintf("%s/%s: its controller has not seen generation %d yet", kind, name, generation)
	case ready32 != want:
		return false, fmt.Sprintf("%s/%s: %d of %d replicas ready", kind, name, ready32, want)
	}
	return true, ""
}

// ScheduleEvent is the record a `perform` command leaves on a MigrationSchedule (events.k8s.io/v1,
// regarding the schedule). eventType is Normal or Warning.
func ScheduleEvent(ms *volsyncv1alpha1.MigrationSchedule, eventType, action, reason, note string, now time.Time) *eventsv1.Event {
	if len(note) > eventNoteLimit {
		note = note[:eventNoteLimit-3] + "..."
	}
	return &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{
			// Named as client-go names Events: the object and the time in nanoseconds.
			Name:      fmt.Sprintf("%s.%x", ms.Name[:min(len(ms.Name), 230)], now.UnixNano()),
			Namespace: ms.Namespace,
		},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: ReportingController,
		ReportingInstance:   reportingInstance(),
		Action:              action,
		Reason:              reason,
		Type:                eventType,
		Note:                note,
		Regarding: corev1.ObjectReference{
			APIVersion: volsyncv1alpha1.GroupVersion.String(), Kind: "MigrationSchedule",
			Namespace: ms.Namespace, Name: ms.Name, UID: ms.UID, ResourceVersion: ms.ResourceVersion,
		},
	}
}

// reportingInstance names who ran the command: volsyncctl on this host.
func reportingInstance() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return ReportingController
	}
	s := ReportingController + "-" + host
	return s[:min(len(s), 128)]
}
