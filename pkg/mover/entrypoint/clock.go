package entrypoint

import "k8s.io/utils/clock"

// Clock is the mover's clock: the Logger's timestamps and the movers' deadlines read it, never
// the time package. It is the real clock; a test may replace it before a run. The deadlines
// taken from it include network ones (net.Conn.SetDeadline), so a replacement that should let
// connections work must keep close to real time.
var Clock clock.PassiveClock = clock.RealClock{}
