package schedule

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// BenchmarkDueTypes10000Policies measures one controller resync over 10,000 owners, each with its
// own compiled policy (varied sections and zones) and history. One op is all 10,000 Due calls.
func BenchmarkDueTypes10000Policies(b *testing.B) {
	const owners = 10000
	zones := []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe",
		"America/Sao_Paulo", "Pacific/Auckland", "Asia/Tokyo"}
	days := []string{"Sunday", "Mon", "tue", "Wednesday", "thurs", "Fri", "SAT"}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2024, 3, 10, 7, 30, 0, 0, time.UTC) // New York's spring-forward morning
	policies := make([]*Policy, owners)
	histories := make([]History, owners)
	for i := range owners {
		kitchen := func() string {
			return fmt.Sprintf("%d:%02d%s", rng.IntN(12)+1, rng.IntN(60), []string{"AM", "pm"}[rng.IntN(2)])
		}
		item := v1alpha1.SchedulePolicyItem{TimeZone: zones[rng.IntN(len(zones))]}
		mask := rng.IntN(15) + 1
		if mask&1 != 0 {
			item.Interval = &v1alpha1.IntervalPolicy{IntervalMinutes: int32(rng.IntN(240) + 1)}
		}
		if mask&2 != 0 {
			item.Daily = &v1alpha1.DailyPolicy{Time: kitchen()}
		}
		if mask&4 != 0 {
			item.Weekly = &v1alpha1.WeeklyPolicy{Day: days[rng.IntN(7)], Time: kitchen()}
		}
		if mask&8 != 0 {
			item.Monthly = &v1alpha1.MonthlyPolicy{Date: int32(rng.IntN(31) + 1), Time: kitchen()}
		}
		p, err := Compile(fmt.Sprintf("p%d", i), item)
		if err != nil {
			b.Fatal(err)
		}
		policies[i] = p
		// Some owners are new, most ran recently, some come back from an outage of up to 40 days.
		h := History{Start: now.Add(-time.Duration(rng.IntN(90*24)) * time.Hour), Last: map[Type]time.Time{}}
		if rng.IntN(10) > 0 {
			back := time.Duration(rng.IntN(40*24*60)) * time.Minute
			for _, t := range p.Types() {
				if last := p.Next(t, now.Add(-back-48*time.Hour)); last.Before(now) && last.After(h.Start) {
					h.Last[t] = last
				}
			}
		}
		histories[i] = h
	}
	b.ReportAllocs()
	fired := 0
	for b.Loop() {
		fired = 0
		for i, p := range policies {
			fired += len(p.Due(histories[i], now))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/owners, "ns/policy")
	b.ReportMetric(float64(fired), "decisions/op")
}
