package dataplane

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/volsync/volsync/integration-test/testenv"
	"github.com/volsync/volsync/pkg/mover/rsync"
)

// benchTree is the benchmarks' source: about 1 GiB in a few large files and many small ones, and
// the same tree with about 1 % changed. Made once per run.
type benchTree struct {
	Initial, Changed string
	Keys             keys
	MiB              int64
	// Dir holds both trees; TestMain removes it.
	Dir string
}

var (
	benchOnce sync.Once
	benchData benchTree
)

func benchSetup(b *testing.B) benchTree {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "volsync-dp-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchData.Dir = dir
		benchData.Initial = filepath.Join(dir, "initial")
		benchData.Changed = filepath.Join(dir, "changed")
		start := time.Now()
		// 4 x 192 MiB incompressible + 16,384 x 16 KiB text = 1 GiB; VOLSYNC_BENCH_MIB scales it
		// down for a quick look.
		mib := int64(1024)
		if v, err := strconv.ParseInt(os.Getenv("VOLSYNC_BENCH_MIB"), 10, 64); err == nil && v >= 16 {
			mib = v
		}
		makeTree(b, benchData.Initial, treeSpec{LargeFiles: 4, LargeSize: mib << 20 * 3 / 16, SmallFiles: int(mib * 16), SmallSize: 16 << 10, Seed: 11})
		if out, err := runCmd("cp", "-a", benchData.Initial, benchData.Changed); err != nil {
			b.Fatalf("cp: %v: %s", err, out)
		}
		changed := changeTree(b, benchData.Changed, 0.01, 12)
		benchData.MiB = mib
		fmt.Printf("bench tree: %d MiB (4 x %d MiB random, %d x 16 KiB text), %d bytes changed for the incremental; made in %s\n",
			mib, mib*3/16, mib*16, changed, time.Since(start).Round(time.Millisecond))
		benchData.Keys = makeKeys(b, asRoot)
	})
	return benchData
}

// benchTool syncs a tree into a destination directory, once for the initial copy and once for the
// incremental one.
type benchTool struct {
	Name string
	// Raw names the row this one is compared with ("" for none).
	Raw  string
	Sync func(b *testing.B, src, dst string, k keys)
	// Unverified rows are not compared with the source afterwards: the raw tool alone cannot
	// reproduce the tree (rclone by hand loses directory modes and adds xattrs).
	Unverified bool
}

var benchTools = []benchTool{
	{Name: "cp -a", Sync: func(b *testing.B, src, dst string, _ keys) {
		if out, err := runCmd("cp", "-a", "--", src+"/.", dst+"/"); err != nil {
			b.Fatalf("cp -a: %v: %s", err, out)
		}
	}},
	{Name: "rsync over ssh, by hand", Sync: rawRsyncSSH},
	{Name: "rsync entry point", Raw: "rsync over ssh, by hand", Sync: func(b *testing.B, src, dst string, k keys) {
		printCommitTimes("rsync entry point", syncOnce(b, rsyncSSH, asRoot, src, dst, k))
	}},
	{Name: "rsync entry point, in place", Raw: "rsync over ssh, by hand", Sync: func(b *testing.B, src, dst string, k keys) {
		syncInPlace(b, rsyncSSH, asRoot, src, dst, k)
	}},
	{Name: "rsync over stunnel, by hand", Sync: rawRsyncStunnel},
	{Name: "rsync-tls entry point", Raw: "rsync over stunnel, by hand", Sync: func(b *testing.B, src, dst string, k keys) {
		printCommitTimes("rsync-tls entry point", syncOnce(b, rsyncTLS, asRoot, src, dst, k))
	}},
	{Name: "rsync-tls entry point, in place", Raw: "rsync over stunnel, by hand", Sync: func(b *testing.B, src, dst string, k keys) {
		syncInPlace(b, rsyncTLS, asRoot, src, dst, k)
	}},
}

// BenchmarkDataplane times each entry point against its raw tool run by hand and against cp -a,
// for the initial copy of a 1 GiB tree and for a 1 %-changed incremental copy, and prints a table.
// Each row is a sub-benchmark (-bench 'Dataplane/(cp|rsync)' picks rows). The rows take turns,
// round after round (VOLSYNC_BENCH_ROUNDS, default 3), and each one's best round counts: on a
// shared machine the noise then falls on all of them alike. Run it with -benchtime=1x (make
// bench-dataplane).
func BenchmarkDataplane(b *testing.B) {
	tree := benchSetup(b)
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("VOLSYNC_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	best := map[string][2]time.Duration{}
	for round := 0; round < rounds; round++ {
		for _, tool := range benchTools {
			b.Run(tool.Name, func(b *testing.B) {
				var initial, incremental time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					dst := tempDir(b, asRoot, "bench-dst")
					b.StartTimer()
					start := time.Now()
					tool.Sync(b, tree.Initial, dst, tree.Keys)
					initial = time.Since(start)
					start = time.Now()
					tool.Sync(b, tree.Changed, dst, tree.Keys)
					incremental = time.Since(start)
					b.StopTimer()
					// cp -a does not delete what the change removed, and Unverified raw tools
					// cannot carry everything; the others must match exactly.
					if round == 0 && tool.Name != "cp -a" && !tool.Unverified {
						requireSameTree(b, tree.Changed, dst, checksumOptions{Ownership: true, DirTimes: true}, moverOwned)
					}
					os.RemoveAll(dst)
				}
				b.ReportMetric(initial.Seconds(), "initial-s")
				b.ReportMetric(incremental.Seconds(), "incremental-s")
				prev, seen := best[tool.Name]
				if !seen || initial < prev[0] {
					prev[0] = initial
				}
				if !seen || incremental < prev[1] {
					prev[1] = incremental
				}
				best[tool.Name] = prev
			})
		}
	}
	printBenchTable(tree.MiB, rounds, best)
}

func printBenchTable(mib int64, rounds int, results map[string][2]time.Duration) {
	if len(results) == 0 {
		return
	}
	floor := results["cp -a"]
	ratio := func(a, b time.Duration) string {
		if b <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", a.Seconds()/b.Seconds())
	}
	fmt.Printf("\nbest of %d rounds, seconds; ratios to the raw tool by hand and to cp -a\n", rounds)
	fmt.Printf("%-30s %10s %8s %8s   %14s %8s %8s\n", fmt.Sprintf("%d MiB tree", mib), "initial", "vs raw", "vs cp", "1% changed", "vs raw", "vs cp")
	for _, tool := range benchTools {
		r, ok := results[tool.Name]
		if !ok {
			continue
		}
		vsRaw0, vsRaw1 := "", ""
		if raw, ok := results[tool.Raw]; ok {
			vsRaw0, vsRaw1 = ratio(r[0], raw[0]), ratio(r[1], raw[1])
		}
		fmt.Printf("%-30s %9.2fs %8s %8s   %13.2fs %8s %8s\n", tool.Name, r[0].Seconds(), vsRaw0, ratio(r[0], floor[0]),
			r[1].Seconds(), vsRaw1, ratio(r[1], floor[1]))
	}
	fmt.Println()
}

// rawRsyncSSH is what a person would run by hand: sshd with the destination's key and a plain
// authorized_keys, and rsync with the movers' flags over ssh.
func rawRsyncSSH(b *testing.B, src, dst string, k keys) {
	dir := tempDir(b, asRoot, "raw-ssh")
	port := freePort(b)
	copyKey := func(from, to string) {
		data, err := os.ReadFile(from)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	copyKey(filepath.Join(k.Destination, "destination"), filepath.Join(dir, "host_key"))
	copyKey(filepath.Join(k.Destination, "source.pub"), filepath.Join(dir, "authorized_keys"))
	copyKey(filepath.Join(k.Source, "source"), filepath.Join(dir, "id"))
	pub, _ := os.ReadFile(filepath.Join(k.Source, "destination.pub"))
	f := strings.Fields(string(pub))
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(fmt.Sprintf("[127.0.0.1]:%d %s %s\n", port, f[0], f[1])), 0o600); err != nil {
		b.Fatal(err)
	}
	config := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s/host_key\nAuthorizedKeysFile %s/authorized_keys\nPidFile none\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n", port, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(config), 0o600); err != nil {
		b.Fatal(err)
	}
	_ = os.MkdirAll("/run/sshd", 0o755)
	sshd := startDaemon(b, "/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	defer sshd()
	waitPort(b, port)
	ssh := fmt.Sprintf("ssh -F /dev/null -i %s/id -p %d -o UserKnownHostsFile=%s/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes", dir, port, dir)
	args := append(append([]string{}, rsync.TransferFlags...), "-e", ssh, src+"/", "root@127.0.0.1:"+dst+"/")
	if out, err := runCmd("rsync", args...); err != nil {
		b.Fatalf("rsync over ssh: %v: %s", err, out)
	}
}

// rawRsyncStunnel is the TLS equivalent by hand: an rsync daemon (chrooted, as root) behind a
// stunnel server, and rsync through a stunnel client, both with the pre-shared key.
func rawRsyncStunnel(b *testing.B, src, dst string, k keys) {
	dir := tempDir(b, asRoot, "raw-tls")
	rsyncPort, tlsPort, localPort := freePort(b), freePort(b), freePort(b)
	psk, _ := os.ReadFile(filepath.Join(k.Destination, "psk.txt"))
	if err := os.WriteFile(filepath.Join(dir, "psk.txt"), psk, 0o600); err != nil {
		b.Fatal(err)
	}
	files := map[string]string{
		"rsyncd.conf": fmt.Sprintf("address = 127.0.0.1\nport = %d\nuse chroot = yes\nuid = 0\ngid = 0\nnumeric ids = yes\nmunge symlinks = no\n[data]\npath = %s\nread only = no\n", rsyncPort, dst),
		"server.conf": fmt.Sprintf("foreground = yes\npid =\nsyslog = no\n[s]\naccept = 127.0.0.1:%d\nconnect = 127.0.0.1:%d\nciphers = PSK\nPSKsecrets = %s/psk.txt\n", tlsPort, rsyncPort, dir),
		"client.conf": fmt.Sprintf("foreground = yes\npid =\nsyslog = no\n[c]\nclient = yes\naccept = 127.0.0.1:%d\nconnect = 127.0.0.1:%d\nciphers = PSK\nPSKsecrets = %s/psk.txt\nPSKidentity = volsync\n", localPort, tlsPort, dir),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	defer startDaemon(b, "rsync", "--daemon", "--no-detach", "--config="+filepath.Join(dir, "rsyncd.conf"))()
	defer startDaemon(b, "stunnel4", filepath.Join(dir, "server.conf"))()
	defer startDaemon(b, "stunnel4", filepath.Join(dir, "client.conf"))()
	waitPort(b, rsyncPort)
	waitPort(b, tlsPort)
	waitPort(b, localPort)
	args := append(append([]string{}, rsync.TransferFlags...), src+"/", "rsync://127.0.0.1:"+strconv.Itoa(localPort)+"/data/")
	if out, err := runCmd("rsync", args...); err != nil {
		b.Fatalf("rsync over stunnel: %v: %s", err, out)
	}
}

// startDaemon starts a server for a raw run and returns what stops it.
func startDaemon(b *testing.B, name string, args ...string) func() {
	cmd := exec.Command(name, args...)
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if b.Failed() {
			b.Logf("%s output:\n%s", name, out.String())
		}
	}
}

func waitPort(b *testing.B, port int) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := dialLocal(port); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("nothing listens on port %d", port)
}

// printCommitTimes prints where a staged sync's commit spent its time (flush, swap, removing the
// previous image), as the destination's summary says; the rest of the sync is rsync itself,
// hard-linking the unchanged files into the staging tree as it goes.
func printCommitTimes(row string, r syncRun) {
	msg := r.Destination.summary().Message
	if i := strings.Index(msg, "(flush "); i >= 0 {
		fmt.Printf("  %s commit: %s\n", row, strings.TrimSuffix(msg[i+1:], ")"))
	}
}
