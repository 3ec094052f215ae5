package main

import (
	"testing"
	"time"

	"github.com/volsync/volsync/pkg/schedule"
)

func TestRequestCountsAreSplitIntoWritesReadsAndLeaderElection(t *testing.T) {
	before, err := requestsFrom([]byte(`# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 10
apiserver_request_total{code="200",component="apiserver",group="volsync.backube",resource="replicationsources",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 5
apiserver_request_total{code="200",component="apiserver",group="",resource="",scope="",subresource="",verb="GET",version=""} 7
`))
	if err != nil {
		t.Fatal(err)
	}
	after, err := requestsFrom([]byte(`# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 40
apiserver_request_total{code="200",component="apiserver",group="volsync.backube",resource="replicationsources",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 5
apiserver_request_total{code="409",component="apiserver",group="volsync.backube",resource="replicationsources",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 2
apiserver_request_total{code="200",component="apiserver",group="volsync.backube",resource="replicationsources",scope="namespace",subresource="",verb="LIST",version="v1alpha1"} 3
apiserver_request_total{code="201",component="apiserver",group="",resource="events",scope="namespace",subresource="",verb="POST",version="v1"} 1
apiserver_request_total{code="200",component="apiserver",group="",resource="",scope="",subresource="",verb="GET",version=""} 90
`))
	if err != nil {
		t.Fatal(err)
	}
	d := after.since(before)
	tests := []struct {
		name string
		keep func(requestKey) bool
		want float64
	}{
		{"object writes count every response code and leave leader election out", isObjectWrite, 2},
		{"leader election is the Lease renewals and the core Event", isLeaderElectionWrite, 31},
		{"reads are resource reads only, never /metrics itself", isRead, 3},
	}
	for _, tt := range tests {
		if got := d.sum(tt.keep); got != tt.want {
			t.Errorf("%s: %v, want %v (%s)", tt.name, got, tt.want, d.bySeries(func(requestKey) bool { return true }, 1))
		}
	}
	if got, want := d.bySeries(isObjectWrite, 1), "PATCH replicationsources.volsync.backube/status 2"; got != want {
		t.Errorf("bySeries = %q, want %q", got, want)
	}
}

func TestPercentilesAreNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 200; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, tt := range []struct {
		name string
		p    float64
		want time.Duration
	}{
		{"the median of 1..200 ms is the 100th", 0.5, 100 * time.Millisecond},
		{"p99 of 200 is the 198th", 0.99, 198 * time.Millisecond},
		{"p100 is the largest", 1, 200 * time.Millisecond},
	} {
		if got := percentile(ds, tt.p); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	if got := percentile(nil, 0.99); got != 0 {
		t.Errorf("percentile of none = %s, want 0", got)
	}
}

func TestThePlanExpectsOneChildPerTriggerUpToTheCutoff(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 20, 0, time.UTC)
	p := newPlan(start, 75*time.Second, 3)
	if want := time.Date(2026, 3, 1, 10, 2, 0, 0, time.UTC); !p.marks[0].Equal(want) || !p.cutoff().Equal(want.Add(2*time.Minute)) {
		t.Fatalf("marks %v, want 10:02 to 10:04", p.marks)
	}
	created := start.Add(10 * time.Second)
	for _, tt := range []struct {
		name  string
		owner int
		want  []time.Time
	}{
		{"a daily owner fires once, at its minute", 0, []time.Time{p.marks[0]}},
		{"the fifth owner's daily trigger falls on the next minute", 4, []time.Time{p.marks[1]}},
		{"an interval owner fires at creation and every period up to the cutoff", 3,
			[]time.Time{created, created.Add(2 * time.Minute)}},
	} {
		a := p.assign(tt.owner)
		got := p.expected(kindSource, "ns", "o", a, created)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %d triggers %+v, want %v", tt.name, len(got), got, tt.want)
			continue
		}
		for i := range got {
			if !got[i].scheduled.Equal(tt.want[i]) || got[i].atCreation != (a.typ == schedule.TypeInterval && i == 0) {
				t.Errorf("%s: trigger %d is %+v, want %s", tt.name, i, got[i], tt.want[i])
			}
		}
	}
}

func TestComparingChildrenFindsDelaysMissesAndExtras(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 2, 0, 0, time.UTC)
	want := []expectedTrigger{
		{kind: kindSource, namespace: "ns", owner: "a", typ: schedule.TypeDaily, scheduled: at},
		{kind: kindSource, namespace: "ns", owner: "b", typ: schedule.TypeDaily, scheduled: at},
	}
	made := func(owner string, scheduled time.Time, delay time.Duration) child {
		return child{kind: kindSource, namespace: "ns", name: schedule.ChildName(owner, schedule.TypeDaily, scheduled),
			scheduled: scheduled, createdAt: scheduled.Add(delay), created: scheduled.Add(delay).Truncate(time.Second)}
	}
	got := []child{
		made("a", at, 250*time.Millisecond),
		made("a", at.Add(-24*time.Hour), 0),       // a trigger that should not have fired
		made("c", at.Add(time.Hour), time.Second), // after the cutoff: not looked at
	}
	o := compare(want, got, at)
	if d := o.delays[kindSource+" daily"]; len(d) != 1 || d[0] != 250*time.Millisecond {
		t.Errorf("delays %v, want one of 250ms", o.delays)
	}
	if len(o.missed) != 1 || len(o.extra) != 1 || o.found != 1 {
		t.Errorf("missed %v, extra %v, found %d; want b's child missed and a's earlier one extra", o.missed, o.extra, o.found)
	}
}
