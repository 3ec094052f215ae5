package cli

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/duration"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// None is the cell of a value that is not there (no sync yet, no image), as kubectl prints it.
const None = "<none>"

// ReplicationSourceTable is the `get replicationsource` table: NAME SOURCE LAST-SYNC DURATION
// NEXT-SYNC STATUS LAST-RESULT, with NAMESPACE first when listing all namespaces. wide adds
// TRIGGER, MOVER and PROGRESS.
func ReplicationSourceTable(sources []volsyncv1alpha1.ReplicationSource, allNamespaces, wide bool, now time.Time) Table {
	t := Table{Headers: []string{"NAME", "SOURCE", "LAST-SYNC", "DURATION", "NEXT-SYNC", "STATUS", "LAST-RESULT"}}
	if wide {
		t.Headers = append(t.Headers, "TRIGGER", "MOVER", "PROGRESS")
	}
	if allNamespaces {
		t.Headers = append([]string{"NAMESPACE"}, t.Headers...)
	}
	for _, s := range sources {
		row := append([]string{s.Name, s.Spec.SourcePVC}, replicationCells(&s.Status.ReplicationStatus, s.Spec.Paused, now)...)
		if wide {
			row = append(row, TriggerText(s.Spec.Trigger), sourceMover(&s.Spec), ProgressText(s.Status.Progress))
		}
		if allNamespaces {
			row = append([]string{s.Namespace}, row...)
		}
		t.AddRow(row...)
	}
	return t
}

// ReplicationDestinationTable is the `get replicationdestination` table: NAME LAST-SYNC DURATION
// NEXT-SYNC STATUS LAST-RESULT LATEST-IMAGE, with NAMESPACE first when listing all namespaces.
// wide adds TRIGGER, MOVER and PROGRESS.
func ReplicationDestinationTable(destinations []volsyncv1alpha1.ReplicationDestination, allNamespaces, wide bool, now time.Time) Table {
	t := Table{Headers: []string{"NAME", "LAST-SYNC", "DURATION", "NEXT-SYNC", "STATUS", "LAST-RESULT", "LATEST-IMAGE"}}
	if wide {
		t.Headers = append(t.Headers, "TRIGGER", "MOVER", "PROGRESS")
	}
	if allNamespaces {
		t.Headers = append([]string{"NAMESPACE"}, t.Headers...)
	}
	for _, d := range destinations {
		image := None
		if d.Status.LatestImage != nil && d.Status.LatestImage.Name != "" {
			image = d.Status.LatestImage.Name
			if wide {
				image = d.Status.LatestImage.Kind + "/" + image
			}
		}
		row := append([]string{d.Name}, replicationCells(&d.Status.ReplicationStatus, d.Spec.Paused, now)...)
		row = append(row, image)
		if wide {
			row = append(row, TriggerText(d.Spec.Trigger), destinationMover(&d.Spec), ProgressText(d.Status.Progress))
		}
		if allNamespaces {
			row = append([]string{d.Namespace}, row...)
		}
		t.AddRow(row...)
	}
	return t
}

// ReplicationSyncTable is the `get replicationsync` table: NAME OWNER TYPE SCHEDULED STATUS
// DURATION, with NAMESPACE first when listing all namespaces. wide adds STARTED, FINISHED and the
// mover's summary.
func ReplicationSyncTable(syncs []volsyncv1alpha1.ReplicationSync, allNamespaces, wide bool, now time.Time) Table {
	t := Table{Headers: []string{"NAME", "OWNER", "TYPE", "SCHEDULED", "STATUS", "DURATION"}}
	if wide {
		t.Headers = append(t.Headers, "STARTED", "FINISHED", "SUMMARY")
	}
	if allNamespaces {
		t.Headers = append([]string{"NAMESPACE"}, t.Headers...)
	}
	for _, s := range syncs {
		status := string(s.Status.Status)
		if status == "" {
			status = string(volsyncv1alpha1.RunStatusPending)
		}
		elapsed := Elapsed(s.Status.StartTime, s.Status.FinishTime, now)
		row := []string{s.Name, s.Spec.Replication.Kind + "/" + s.Spec.Replication.Name, string(s.Spec.PolicyType),
			orNone(Timestamp(&s.Spec.ScheduledTime)), status, orNone(elapsed)}
		if wide {
			summary := None
			if s.Status.MoverStatus != nil && s.Status.MoverStatus.Summary != "" {
				summary = s.Status.MoverStatus.Summary
			}
			row = append(row, orNone(Timestamp(s.Status.StartTime)), orNone(Timestamp(s.Status.FinishTime)), summary)
		}
		if allNamespaces {
			row = append([]string{s.Namespace}, row...)
		}
		t.AddRow(row...)
	}
	return t
}

// replicationCells are LAST-SYNC DURATION NEXT-SYNC STATUS LAST-RESULT of a source or destination.
func replicationCells(st *volsyncv1alpha1.ReplicationStatus, paused bool, now time.Time) []string {
	last, took, next := None, None, None
	if st.LastSyncTime != nil && !st.LastSyncTime.IsZero() {
		last = Age(st.LastSyncTime.Time, now) + " ago"
	}
	if st.LastSyncDuration != nil {
		took = st.LastSyncDuration.Duration.Round(time.Second).String()
		if st.LastSyncDuration.Duration < time.Second {
			took = st.LastSyncDuration.Duration.Round(time.Millisecond).String()
		}
	}
	if st.NextSyncTime != nil && !st.NextSyncTime.IsZero() {
		if d := st.NextSyncTime.Sub(now); d > 0 {
			next = "in " + duration.HumanDuration(d)
		} else {
			next = "due"
		}
	}
	result := None
	if st.LatestMoverStatus != nil && st.LatestMoverStatus.Result != "" {
		result = string(st.LatestMoverStatus.Result)
	}
	return []string{last, took, next, SyncStatus(st, paused), result}
}

// SyncStatus is where a source or destination stands in one word: the reason of its
// Synchronizing condition (SyncInProgress, WaitingForSchedule, WaitingForManual, CleaningUp,
// Paused, Error), Paused when the spec says so and the controller has not said anything yet, else
// <unknown>.
func SyncStatus(st *volsyncv1alpha1.ReplicationStatus, paused bool) string {
	if c := meta.FindStatusCondition(st.Conditions, volsyncv1alpha1.ConditionSynchronizing); c != nil && c.Reason != "" {
		return c.Reason
	}
	if paused {
		return volsyncv1alpha1.ReasonPaused
	}
	return "<unknown>"
}

// TriggerText says what starts the syncs: manual=VALUE (which wins over a schedule beside it),
// schedule=CRON, policy=NAME, or always.
func TriggerText(t *volsyncv1alpha1.ReplicationTriggerSpec) string {
	if t == nil {
		return "always"
	}
	var parts []string
	if t.Manual != "" {
		parts = append(parts, "manual="+t.Manual)
	}
	if t.Schedule != nil && *t.Schedule != "" {
		parts = append(parts, "schedule="+strings.ReplaceAll(*t.Schedule, " ", "_"))
	}
	if t.SchedulePolicyName != "" {
		parts = append(parts, "policy="+t.SchedulePolicyName)
	}
	if len(parts) == 0 {
		return "always"
	}
	return strings.Join(parts, ",")
}

// ProgressText is the progress a running mover reported, such as "1.5 MiB of 10.0 MiB (15%), 12
// files"; <none> without a report. The tables print it last, as it holds blanks.
func ProgressText(p *volsyncv1alpha1.MoverProgress) string {
	if p == nil || (p.BytesDone == 0 && p.BytesTotal == 0 && p.FilesDone == 0 && p.FilesTotal == 0) {
		return None
	}
	text := Bytes(p.BytesDone)
	if p.BytesTotal > 0 {
		text += " of " + Bytes(p.BytesTotal)
		if p.BytesTotal >= p.BytesDone {
			text += fmt.Sprintf(" (%d%%)", p.BytesDone*100/p.BytesTotal)
		}
	}
	files := fmt.Sprintf("%d files", p.FilesDone)
	if p.FilesTotal > 0 {
		files = fmt.Sprintf("%d of %d files", p.FilesDone, p.FilesTotal)
	}
	return text + ", " + files
}

// Bytes prints a byte count in binary units: 512 B, 1.5 KiB, 10.0 MiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func sourceMover(s *volsyncv1alpha1.ReplicationSourceSpec) string {
	switch {
	case s.Rsync != nil:
		return "rsync"
	case s.RsyncTLS != nil:
		return "rsyncTLS"
	case s.Rclone != nil:
		return "rclone"
	case s.Restic != nil:
		return "restic"
	case s.Syncthing != nil:
		return "syncthing"
	case s.External != nil:
		return "external"
	}
	return None
}

func destinationMover(s *volsyncv1alpha1.ReplicationDestinationSpec) string {
	switch {
	case s.Rsync != nil:
		return "rsync"
	case s.RsyncTLS != nil:
		return "rsyncTLS"
	case s.Rclone != nil:
		return "rclone"
	case s.Restic != nil:
		return "restic"
	case s.External != nil:
		return "external"
	}
	return None
}

func orNone(s string) string {
	if s == "" {
		return None
	}
	return s
}
