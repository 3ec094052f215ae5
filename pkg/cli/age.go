package cli

import (
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// Age prints how long ago t was in kubectl's AGE form (45s, 5m10s, 3d), or "<unknown>" for the
// zero time.
func Age(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}
