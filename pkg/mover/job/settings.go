package job

import (
	"fmt"

	"k8s.io/utils/clock"
)

// Settings are what volsyncd gives every Job-based mover's Builder at start-up.
type Settings struct {
	// Image is the mover image the Jobs run.
	Image string
	// PullSecrets are the image pull secrets the Jobs' pods pull Image with.
	PullSecrets PullSecrets
	// Clock is "now" for timeouts and intervals; the real clock when nil.
	Clock clock.PassiveClock
}

// Clocked is Clock, or the real clock when it is nil.
func (s *Settings) Clocked() clock.PassiveClock {
	if s.Clock == nil {
		return clock.RealClock{}
	}
	return s.Clock
}

// Describe names a mover and its image, for a Builder's VersionInfo.
func (s *Settings) Describe(mover string) string {
	return fmt.Sprintf("%s mover, image %s", mover, s.Image)
}
