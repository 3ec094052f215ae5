package migration

import (
	"fmt"
	"strings"
	"time"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// summarize counts the resources and volumes of a run. The resource counts and the volume list
// are the truth; the summary is derived from them every time so a run resumed after a restart
// can never count twice.
func summarize(st *volsyncv1alpha1.MigrationStatus) *volsyncv1alpha1.MigrationSummary {
	s := &volsyncv1alpha1.MigrationSummary{TotalNumberOfVolumes: int64(len(st.Volumes))}
	s.TotalNumberOfResources, s.NumberOfMigratedResources = resourceTotals(st)
	for _, v := range st.Volumes {
		if v.Status == volsyncv1alpha1.RunStatusSuccessful {
			s.NumberOfMigratedVolumes++
		}
		s.TotalBytesMigrated += v.BytesTotal
	}
	s.Resources = fmt.Sprintf("%d/%d", s.NumberOfMigratedResources, s.TotalNumberOfResources)
	s.Volumes = fmt.Sprintf("%d/%d", s.NumberOfMigratedVolumes, s.TotalNumberOfVolumes)
	if st.StartTimestamp != nil && st.VolumeMigrationFinishTimestamp != nil {
		s.ElapsedTimeForVolumeMigration = st.VolumeMigrationFinishTimestamp.Sub(st.StartTimestamp.Time).String()
	}
	if st.ResourceMigrationFinishTimestamp != nil {
		from := st.StartTimestamp
		if st.VolumeMigrationFinishTimestamp != nil {
			from = st.VolumeMigrationFinishTimestamp
		}
		if from != nil {
			s.ElapsedTimeForResourceMigration = st.ResourceMigrationFinishTimestamp.Sub(from.Time).String()
		}
	}
	return s
}

// outcome is how a run that went through every stage ended:
//   - Successful when every resource and every volume made it (a run with nothing to copy
//     succeeds: there was nothing to lose);
//   - PartialSuccess when something made it and something did not, or when entries are left
//     unfinished while nothing failed outright;
//   - Failed when things were tried and nothing made it.
func outcome(st *volsyncv1alpha1.MigrationStatus) volsyncv1alpha1.RunStatus {
	var ok, failed, unfinished int64
	for _, c := range resourceCounts(st) {
		switch c.Status {
		case volsyncv1alpha1.RunStatusSuccessful:
			ok += c.Count
		case volsyncv1alpha1.RunStatusFailed:
			failed += c.Count
		default:
			unfinished += c.Count
		}
	}
	for _, v := range st.Volumes {
		switch v.Status {
		case volsyncv1alpha1.RunStatusSuccessful:
			ok++
		case volsyncv1alpha1.RunStatusFailed:
			failed++
		default:
			unfinished++
		}
	}
	switch {
	case failed == 0 && unfinished == 0:
		return volsyncv1alpha1.RunStatusSuccessful
	case ok > 0 || failed == 0:
		return volsyncv1alpha1.RunStatusPartialSuccess
	default:
		return volsyncv1alpha1.RunStatusFailed
	}
}

// outcomeMessage says in one line what a finished run did, and why it fell short if it did.
func outcomeMessage(st *volsyncv1alpha1.MigrationStatus, duration time.Duration) string {
	s := summarize(st)
	msg := fmt.Sprintf("migrated %s resources and %s volumes in %s", s.Resources, s.Volumes, duration.Round(time.Second))
	var problems []string
	for _, r := range st.Resources {
		if r.Status == volsyncv1alpha1.RunStatusFailed {
			problems = append(problems, fmt.Sprintf("%s %s: %s", r.Kind, objectName(r.Namespace, r.Name), r.Reason))
		}
	}
	for _, v := range st.Volumes {
		if v.Status != volsyncv1alpha1.RunStatusSuccessful {
			problems = append(problems, fmt.Sprintf("volume %s: %s", objectName(v.Namespace, v.PersistentVolumeClaim), v.Reason))
		}
	}
	const shown = 3
	if len(problems) > shown {
		problems = append(problems[:shown], fmt.Sprintf("and %d more (see status.resources and status.volumes)", len(problems)-shown))
	}
	if len(problems) > 0 {
		msg += "; " + strings.Join(problems, "; ")
	}
	return msg
}

func objectName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
