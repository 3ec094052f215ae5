package entrypoint

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// MaxLogs bounds Summary.Logs, as VolSync bounds latestMoverStatus.logs.
const MaxLogs = 1024

// Highlights keeps the lines of a mover's output that a person looks for after a sync (rsync's
// "sent … bytes  received … bytes", rclone's "Transferred:", restic's "processed N files"), so
// that status carries them rather than all of the output. Lines are kept masked, as they were
// logged.
type Highlights struct {
	mu       sync.Mutex
	patterns []*regexp.Regexp
	lines    []string
}

// Notable is the process's Highlights: Logger.Printf and MaskWriter show it every line they log.
var Notable = &Highlights{}

// Keep adds patterns of lines worth keeping.
func (h *Highlights) Keep(patterns ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range patterns {
		h.patterns = append(h.patterns, regexp.MustCompile(p))
	}
}

// Observe keeps line when a pattern matches it.
func (h *Highlights) Observe(line string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	line = strings.TrimSpace(line)
	for _, p := range h.patterns {
		if p.MatchString(line) {
			h.lines = append(h.lines, line)
			// Only the last MaxLogs bytes are ever shown: keep no more than that many lines.
			if len(h.lines) > MaxLogs {
				h.lines = append(h.lines[:0], h.lines[len(h.lines)-MaxLogs/2:]...)
			}
			return
		}
	}
}

// Logs is what status shows of a successful run: the kept lines, then "<Mover> completed in
// <duration>" as VolSync's movers end, cut from the front to MaxLogs on a line boundary.
func (h *Highlights) Logs(mover string, took time.Duration) string {
	h.mu.Lock()
	lines := append(append([]string(nil), h.lines...), fmt.Sprintf("%s completed in %s", mover, took.Round(time.Second)))
	h.mu.Unlock()
	out := strings.Join(lines, "\n")
	for len(out) > MaxLogs {
		i := strings.IndexByte(out, '\n')
		if i < 0 {
			return out[len(out)-MaxLogs:]
		}
		out = out[i+1:]
	}
	return out
}
