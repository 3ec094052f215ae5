package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// MigrationScheduleTable is storkctl's `get migrationschedule` table: NAME POLICYNAME CLUSTERPAIR
// SUSPEND LAST-SUCCESS-TIME LAST-SUCCESS-DURATION, with NAMESPACE first when listing all
// namespaces. A schedule that never succeeded leaves the last two cells empty.
func MigrationScheduleTable(schedules []volsyncv1alpha1.MigrationSchedule, allNamespaces bool) Table {
	t := Table{Headers: []string{"NAME", "POLICYNAME", "CLUSTERPAIR", "SUSPEND", "LAST-SUCCESS-TIME", "LAST-SUCCESS-DURATION"}}
	if allNamespaces {
		t.Headers = append([]string{"NAMESPACE"}, t.Headers...)
	}
	for _, s := range schedules {
		var lastTime, lastDuration string
		if s.Status.LastSuccessTime != nil {
			lastTime = Timestamp(s.Status.LastSuccessTime)
		}
		if s.Status.LastSuccessDuration != nil {
			lastDuration = s.Status.LastSuccessDuration.Duration.Round(time.Second).String()
		}
		suspend := strconv.FormatBool(s.Spec.Suspend != nil && *s.Spec.Suspend)
		row := []string{s.Name, s.Spec.SchedulePolicyName, s.Spec.Template.Spec.ClusterPair, suspend, lastTime, lastDuration}
		if allNamespaces {
			row = append([]string{s.Namespace}, row...)
		}
		t.AddRow(row...)
	}
	return t
}

// MigrationTable is the `get migration` table, storkctl's: NAME CLUSTERPAIR STAGE STATUS VOLUMES
// RESOURCES CREATED ELAPSED TOTAL BYTES TRANSFERRED, with NAMESPACE first when listing all
// namespaces. VOLUMES and RESOURCES are "migrated/total"; ELAPSED runs until the migration
// finishes; the bytes are the volumes' (summary.totalBytesMigrated).
func MigrationTable(migrations []volsyncv1alpha1.Migration, allNamespaces bool, now time.Time) Table {
	t := Table{Headers: []string{"NAME", "CLUSTERPAIR", "STAGE", "STATUS", "VOLUMES", "RESOURCES", "CREATED", "ELAPSED", "TOTAL BYTES TRANSFERRED"}}
	if allNamespaces {
		t.Headers = append([]string{"NAMESPACE"}, t.Headers...)
	}
	for _, m := range migrations {
		var volumes, resources string
		bytes := "0"
		if s := m.Status.Summary; s != nil {
			volumes, resources = s.Volumes, s.Resources
			bytes = strconv.FormatInt(s.TotalBytesMigrated, 10)
			if volumes == "" {
				volumes = fmt.Sprintf("%d/%d", s.NumberOfMigratedVolumes, s.TotalNumberOfVolumes)
			}
			if resources == "" {
				resources = fmt.Sprintf("%d/%d", s.NumberOfMigratedResources, s.TotalNumberOfResources)
			}
		}
		row := []string{m.Name, m.Spec.ClusterPair, string(m.Status.Stage), string(m.Status.Status), volumes, resources,
			Timestamp(&m.CreationTimestamp), Elapsed(m.Status.StartTimestamp, m.Status.FinishTimestamp, now), bytes}
		if allNamespaces {
			row = append([]string{m.Namespace}, row...)
		}
		t.AddRow(row...)
	}
	return t
}

// Timestamp prints a time as RFC 3339 in UTC, the form kubectl shows in YAML; "" when unset.
func Timestamp(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Elapsed is how long a run took, or has been going: from start to finish, or to now while it has
// not finished; "" before it starts.
func Elapsed(start, finish *metav1.Time, now time.Time) string {
	if start == nil || start.IsZero() {
		return ""
	}
	end := now
	if finish != nil && !finish.IsZero() {
		end = finish.Time
	}
	return max(end.Sub(start.Time), 0).Round(time.Second).String()
}

// MigrationOutcome says in one line why a finished Migration did not fully succeed: the message of
// its Completed condition, else of any failed condition, else the first resource or volume that
// failed.
func MigrationOutcome(m *volsyncv1alpha1.Migration) string {
	if c := meta.FindStatusCondition(m.Status.Conditions, volsyncv1alpha1.ConditionCompleted); c != nil && c.Message != "" {
		return c.Message
	}
	for _, c := range m.Status.Conditions {
		if c.Status == metav1.ConditionFalse && c.Message != "" {
			return c.Message
		}
	}
	for _, r := range m.Status.Resources {
		if r.Status == volsyncv1alpha1.RunStatusFailed && r.Reason != "" {
			return fmt.Sprintf("%s %s/%s: %s", r.Kind, r.Namespace, r.Name, r.Reason)
		}
	}
	for _, v := range m.Status.Volumes {
		if v.Reason != "" {
			return fmt.Sprintf("PersistentVolumeClaim %s/%s: %s", v.Namespace, v.PersistentVolumeClaim, v.Reason)
		}
	}
	return "no reason recorded"
}

// MigrationReplicas reads the replica count a migration stored on a Deployment or StatefulSet in
// the volsync.backube/migration-replicas annotation. ok is false when the annotation is absent.
func MigrationReplicas(annotations map[string]string) (replicas int32, ok bool, err error) {
	v, ok := annotations[volsyncv1alpha1.MigrationReplicasAnnotation]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil || n < 0 {
		return 0, true, fmt.Errorf("annotation %s=%q is not a replica count", volsyncv1alpha1.MigrationReplicasAnnotation, v)
	}
	return int32(n), true, nil
}

// IsMissingResource tells an API error about a missing resource type (the CRDs are not installed)
// from one about a missing object.
func IsMissingResource(err error) bool {
	return isNotFoundResource(err)
}
