package rsynctls

import (
	"io"
	"strings"
	"sync"
)

// lockedLog passes a helper's output on to the mover's log and keeps the last of it, so that a
// failure can be explained from what the helper said (stunnel names a handshake's failure only
// in its own log). For stunnel it also counts connections opened and closed, so that the
// destination can let the source's last connection finish before it stops; stunnel's routine
// notices (LOG5) are counted but not logged.
type lockedLog struct {
	mu     sync.Mutex
	w      io.WriteCloser
	buf    strings.Builder
	line   []byte
	opened int
	closed int
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 64<<10 {
		rest := l.buf.String()[32<<10:]
		l.buf.Reset()
		l.buf.WriteString(rest)
	}
	l.buf.Write(p)
	l.line = append(l.line, p...)
	for {
		i := strings.IndexByte(string(l.line), '\n')
		if i < 0 {
			break
		}
		line := string(l.line[:i+1])
		l.line = l.line[i+1:]
		switch {
		case strings.Contains(line, "accepted connection from"):
			l.opened++
		case strings.Contains(line, "Connection closed"), strings.Contains(line, "Connection reset"):
			l.closed++
		}
		// Routine notices, and the complaint that a PSK service has no certificates to trust.
		if strings.Contains(line, " LOG5[") || strings.Contains(line, " LOG6[") ||
			strings.Contains(line, "No trusted certificates found") {
			continue
		}
		if _, err := l.w.Write([]byte(line)); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// idle reports whether every connection stunnel accepted has closed.
func (l *lockedLog) idle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed >= l.opened
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
