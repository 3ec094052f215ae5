package testenv

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// FreePort returns a TCP port nobody listens on now at host, for a server the test starts later.
//
// The port is chosen below the kernel's ephemeral range on purpose. A port the kernel handed out
// for ":0" goes back into that range when the probe closes, and every outgoing connection and
// every ":0" listener of the parallel tests (API servers, etcd, S3) may take it again before the
// test's own server binds it; a test that starts its server seconds later (a source that waits
// for a late destination) lost that race in CI. Below the range only another FreePort caller can
// pick the same port: never one of this process, and rarely one of another, since the choice is
// random.
func FreePort(t testing.TB, host string) int {
	t.Helper()
	low, high := belowEphemeralRange()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := low + rand.IntN(high-low)
		if portsGiven[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		_ = l.Close()
		portsGiven[port] = true
		return port
	}
	t.Fatalf("no free port on %s between %d and %d", host, low, high)
	return 0
}

// belowEphemeralRange is the span of ports FreePort draws from: the 12,000 ports below the
// kernel's ephemeral range (32768 on Linux unless the machine is configured otherwise).
func belowEphemeralRange() (int, int) {
	first := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 2048 {
				first = n
			}
		}
	}
	low := max(first-12000, 1024)
	return low, first
}
