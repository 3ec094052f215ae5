package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// Description is what `volsyncctl describe` prints about one object: labelled fields in
// sections, its conditions and its recent Events. kubectl describe prints our nested status as a
// wall of keys; this says what a person looks for first.
type Description struct {
	Kind, Namespace, Name string
	Created               time.Time
	// Sections are printed in order, each a title and its fields.
	Sections   []Section
	Conditions []metav1.Condition
	Events     []eventsv1.Event
}

// Section is a titled group of fields; empty values are left out.
type Section struct {
	Title  string
	Fields [][2]string
}

// Add appends a field when its value is not empty.
func (s *Section) Add(label, value string) {
	if strings.TrimSpace(value) != "" {
		s.Fields = append(s.Fields, [2]string{label, value})
	}
}

// Time is t for a field: RFC 3339 and its age, or "" for none.
func Time(t *metav1.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), Age(t.Time, now))
}

// maxEvents is how many of the newest Events describe shows.
const maxEvents = 10

// Print writes the description.
func (d *Description) Print(w io.Writer, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Name:\t%s\n", d.Name)
	if d.Namespace != "" {
		fmt.Fprintf(tw, "Namespace:\t%s\n", d.Namespace)
	}
	fmt.Fprintf(tw, "Kind:\t%s\n", d.Kind)
	fmt.Fprintf(tw, "Created:\t%s\n", Time(&metav1.Time{Time: d.Created}, now))
	for _, s := range d.Sections {
		if len(s.Fields) == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s:\n", s.Title)
		for _, f := range s.Fields {
			lines := strings.Split(strings.TrimRight(f[1], "\n"), "\n")
			fmt.Fprintf(tw, "  %s:\t%s\n", f[0], lines[0])
			for _, l := range lines[1:] {
				fmt.Fprintf(tw, "  \t%s\n", l)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "Conditions:")
	if len(d.Conditions) == 0 {
		fmt.Fprintln(w, "  <none>")
	} else {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tSINCE\tMESSAGE")
		for _, c := range d.Conditions {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, Age(c.LastTransitionTime.Time, now), c.Message)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "Events:")
	events := append([]eventsv1.Event(nil), d.Events...)
	sort.SliceStable(events, func(i, j int) bool { return eventTime(events[i]).Before(eventTime(events[j])) })
	if len(events) > maxEvents {
		events = events[len(events)-maxEvents:]
	}
	if len(events) == 0 {
		fmt.Fprintln(w, "  <none>")
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TYPE\tREASON\tAGE\tMESSAGE")
	for _, e := range events {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.Type, e.Reason, Age(eventTime(e), now), e.Note)
	}
	return tw.Flush()
}

// eventTime is when an Event last happened.
func eventTime(e eventsv1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.DeprecatedLastTimestamp.IsZero():
		return e.DeprecatedLastTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// replicationSections are the sections a ReplicationSource and a ReplicationDestination share.
func replicationSections(st *volsyncv1alpha1.ReplicationStatus, trigger *volsyncv1alpha1.ReplicationTriggerSpec, paused bool, now time.Time) []Section {
	sync := Section{Title: "Sync"}
	sync.Add("Trigger", TriggerText(trigger))
	sync.Add("Status", SyncStatus(st, paused))
	sync.Add("Last sync", Time(st.LastSyncTime, now))
	if st.LastSyncDuration != nil {
		sync.Add("Last duration", st.LastSyncDuration.Duration.Round(time.Millisecond).String())
	}
	sync.Add("Next sync", Time(st.NextSyncTime, now))
	sync.Add("Last manual sync", st.LastManualSync)
	if st.ConsecutiveFailures > 0 {
		sync.Add("Consecutive failures", fmt.Sprint(st.ConsecutiveFailures))
		sync.Add("Next retry", Time(st.NextRetryTime, now))
	}
	if a := st.ActiveSync; a != nil {
		sync.Add("Running", fmt.Sprintf("%s sync, stage %s, attempt %d, started %s ago", a.Trigger, a.Stage, a.Attempt, Age(a.StartTime.Time, now)))
		sync.Add("Progress", ProgressText(st.Progress))
	}
	out := []Section{sync}
	if m := st.LatestMoverStatus; m != nil {
		mover := Section{Title: "Latest mover run"}
		mover.Add("Result", string(m.Result))
		mover.Add("Summary", m.Summary)
		mover.Add("Logs", m.Logs)
		out = append(out, mover)
	}
	return out
}

// DescribeReplicationSource describes rs.
func DescribeReplicationSource(rs *volsyncv1alpha1.ReplicationSource, events []eventsv1.Event, now time.Time) *Description {
	spec := Section{Title: "Spec"}
	spec.Add("Source PVC", rs.Spec.SourcePVC)
	spec.Add("Mover", sourceMover(&rs.Spec))
	d := &Description{Kind: "ReplicationSource", Namespace: rs.Namespace, Name: rs.Name, Created: rs.CreationTimestamp.Time,
		Sections:   append([]Section{spec}, replicationSections(&rs.Status.ReplicationStatus, rs.Spec.Trigger, rs.Spec.Paused, now)...),
		Conditions: rs.Status.Conditions, Events: events}
	if st := rs.Status.Syncthing; st != nil {
		s := Section{Title: "Syncthing"}
		s.Add("Device ID", st.ID)
		s.Add("Address", st.Address)
		for _, p := range st.Peers {
			state := "not connected"
			if p.Connected {
				state = "connected"
			}
			if p.IntroducedBy != "" {
				state += ", introduced by " + p.IntroducedBy
			}
			s.Add("Peer "+orNone(p.Name), fmt.Sprintf("%s at %s, %s", p.ID, orNone(p.Address), state))
		}
		d.Sections = append(d.Sections, s)
	}
	return d
}

// DescribeReplicationDestination describes rd.
func DescribeReplicationDestination(rd *volsyncv1alpha1.ReplicationDestination, events []eventsv1.Event, now time.Time) *Description {
	spec := Section{Title: "Spec"}
	spec.Add("Mover", destinationMover(&rd.Spec))
	d := &Description{Kind: "ReplicationDestination", Namespace: rd.Namespace, Name: rd.Name, Created: rd.CreationTimestamp.Time,
		Sections:   append([]Section{spec}, replicationSections(&rd.Status.ReplicationStatus, rd.Spec.Trigger, rd.Spec.Paused, now)...),
		Conditions: rd.Status.Conditions, Events: events}
	if img := rd.Status.LatestImage; img != nil {
		d.Sections[1].Add("Latest image", img.Kind+"/"+img.Name)
	}
	if r := rd.Status.Rsync; r != nil && r.Address != nil {
		d.Sections[0].Add("Address (for the source)", *r.Address)
	}
	if r := rd.Status.RsyncTLS; r != nil && r.Address != nil {
		d.Sections[0].Add("Address (for the source)", *r.Address)
	}
	return d
}

// DescribeMigration describes m.
func DescribeMigration(m *volsyncv1alpha1.Migration, events []eventsv1.Event, now time.Time) *Description {
	spec := Section{Title: "Spec"}
	spec.Add("Cluster pair", m.Spec.ClusterPair)
	spec.Add("Namespaces", strings.Join(m.Spec.Namespaces, ", "))
	if v := m.Spec.IncludeVolumes; v != nil {
		spec.Add("Include volumes", fmt.Sprint(*v))
	}
	if v := m.Spec.StartApplications; v != nil {
		spec.Add("Start applications", fmt.Sprint(*v))
	}
	st := Section{Title: "Run"}
	st.Add("Status", string(m.Status.Status))
	st.Add("Stage", string(m.Status.Stage))
	st.Add("Started", Time(m.Status.StartTimestamp, now))
	st.Add("Finished", Time(m.Status.FinishTimestamp, now))
	if s := m.Status.Summary; s != nil {
		st.Add("Resources", fmt.Sprintf("%d of %d migrated", s.NumberOfMigratedResources, s.TotalNumberOfResources))
		st.Add("Volumes", fmt.Sprintf("%d of %d migrated, %s", s.NumberOfMigratedVolumes, s.TotalNumberOfVolumes, Bytes(s.TotalBytesMigrated)))
	}
	st.Add("Resources by kind", resourceCountLines(m.Status.ResourceCounts))
	if n := m.Status.ResourcesNotListed; n > 0 {
		st.Add("Not listed", fmt.Sprintf("%d objects are counted above but not listed in status.resources", n))
	}
	var failed []string
	for _, r := range m.Status.Resources {
		if r.Status != "" && r.Status != "Successful" {
			failed = append(failed, fmt.Sprintf("%s %s/%s: %s %s", r.Kind, r.Namespace, r.Name, r.Status, r.Reason))
		}
	}
	for _, v := range m.Status.Volumes {
		if v.Status != "" && v.Status != "Successful" {
			failed = append(failed, fmt.Sprintf("PVC %s/%s: %s %s", v.Namespace, v.PersistentVolumeClaim, v.Status, v.Reason))
		}
	}
	st.Add("Not migrated", strings.Join(failed, "\n"))
	return &Description{Kind: "Migration", Namespace: m.Namespace, Name: m.Name, Created: m.CreationTimestamp.Time,
		Sections: []Section{spec, st}, Conditions: m.Status.Conditions, Events: events}
}

// resourceCountLines is one line per kind: "Deployment.apps: 3 Successful, 1 Failed".
func resourceCountLines(counts []volsyncv1alpha1.MigrationResourceCount) string {
	var kinds []string
	byKind := map[string][]string{}
	for _, c := range counts {
		k := c.Kind
		if c.Group != "" {
			k += "." + c.Group
		}
		if _, seen := byKind[k]; !seen {
			kinds = append(kinds, k)
		}
		byKind[k] = append(byKind[k], fmt.Sprintf("%d %s", c.Count, c.Status))
	}
	lines := make([]string, 0, len(kinds))
	for _, k := range kinds {
		lines = append(lines, k+": "+strings.Join(byKind[k], ", "))
	}
	return strings.Join(lines, "\n")
}

// DescribeMigrationSchedule describes s.
func DescribeMigrationSchedule(s *volsyncv1alpha1.MigrationSchedule, events []eventsv1.Event, now time.Time) *Description {
	spec := Section{Title: "Spec"}
	spec.Add("Schedule policy", s.Spec.SchedulePolicyName)
	spec.Add("Cluster pair", s.Spec.Template.Spec.ClusterPair)
	spec.Add("Namespaces", strings.Join(s.Spec.Template.Spec.Namespaces, ", "))
	if s.Spec.Suspend != nil {
		spec.Add("Suspended", fmt.Sprint(*s.Spec.Suspend))
	}
	spec.Add("Auto suspend", fmt.Sprint(s.Spec.AutoSuspend))
	runs := Section{Title: "Migrations"}
	var types []string
	for t := range s.Status.Items {
		types = append(types, string(t))
	}
	sort.Strings(types)
	for _, t := range types {
		for _, r := range s.Status.Items[volsyncv1alpha1.SchedulePolicyType(t)] {
			line := fmt.Sprintf("%s, created %s", orNone(string(r.Status)), Time(&r.CreationTimestamp, now))
			if r.FinishTimestamp != nil {
				line += ", finished " + Time(r.FinishTimestamp, now)
			}
			runs.Add(t+" "+r.Name, line)
		}
	}
	for _, n := range s.Status.NextTriggers {
		runs.Add("Next "+string(n.Type), Time(&n.Time, now))
	}
	return &Description{Kind: "MigrationSchedule", Namespace: s.Namespace, Name: s.Name, Created: s.CreationTimestamp.Time,
		Sections: []Section{spec, runs}, Conditions: s.Status.Conditions, Events: events}
}

// DescribeClusterPair describes p.
func DescribeClusterPair(p *volsyncv1alpha1.ClusterPair, events []eventsv1.Event, now time.Time) *Description {
	spec := Section{Title: "Spec"}
	spec.Add("Kubeconfig Secret", p.Spec.KubeconfigSecretRef.Name+" (key "+p.Spec.KubeconfigSecretRef.Key+")")
	return &Description{Kind: "ClusterPair", Namespace: p.Namespace, Name: p.Name, Created: p.CreationTimestamp.Time,
		Sections: []Section{spec}, Conditions: p.Status.Conditions, Events: events}
}
