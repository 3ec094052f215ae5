package dataplane

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loopDevice attaches a sparse image file of size bytes to a loop device, as a Block PVC appears
// in a mover pod, and returns the device's path; the test detaches it.
func loopDevice(t testing.TB, size int64) string {
	t.Helper()
	img := filepath.Join(tempDir(t, asRoot, "block"), "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("losetup", "--detach", dev).Run() })
	return dev
}

// deviceSum is the SHA-256 of a whole device.
func deviceSum(t testing.TB, dev string) string { return fileSHA256(t, dev) }

// changeBlocks rewrites fraction of dev's 4 KiB blocks, chosen at random, with random bytes, and
// returns how many bytes it wrote.
func changeBlocks(t testing.TB, dev string, size int64, fraction float64, seed uint64) int64 {
	t.Helper()
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b9))
	blocks := size / 4096
	n := int64(float64(blocks) * fraction)
	buf := make([]byte, 4096)
	for _, b := range r.Perm(int(blocks))[:n] {
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		if _, err := f.WriteAt(buf, int64(b)*4096); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return n * 4096
}

// fillDevice writes size random bytes to dev.
func fillDevice(t testing.TB, dev string, size int64, seed uint64) {
	t.Helper()
	img := filepath.Join(tempDir(t, asRoot, "fill"), "data")
	writeRandomFile(t, img, size, seed)
	if out, err := exec.Command("dd", "if="+img, "of="+dev, "bs=1M", "conv=fsync", "status=none").CombinedOutput(); err != nil {
		t.Fatalf("dd: %v: %s", err, out)
	}
}

var networkBytes = regexp.MustCompile(`: ([0-9]+) bytes sent, ([0-9]+) received`)

// sentAndReceived reads what crossed the network from a block source's summary message.
func sentAndReceived(t testing.TB, message string) int64 {
	t.Helper()
	m := networkBytes.FindStringSubmatch(message)
	if m == nil {
		t.Fatalf("the summary %q does not say what was sent", message)
	}
	sent, _ := strconv.ParseInt(m[1], 10, 64)
	received, _ := strconv.ParseInt(m[2], 10, 64)
	return sent + received
}

// syncDevices runs a block destination and source to completion and returns the bytes that
// crossed the network.
func syncDevices(t testing.TB, kind moverKind, src, dst string, k keys) int64 {
	t.Helper()
	d, port := startDestination(t, kind, asRoot, t.TempDir(), k, map[string]string{"DATA_DEVICE": dst})
	s := startSource(t, kind, asRoot, t.TempDir(), k.Source, port, map[string]string{"DATA_DEVICE": src})
	if code := s.wait(5 * time.Minute); code != 0 {
		t.Fatalf("source exited %d: %+v\ndestination output:\n%s", code, s.summary(), d.out.String())
	}
	if code := d.wait(time.Minute); code != 0 {
		t.Fatalf("destination exited %d: %+v", code, d.summary())
	}
	return sentAndReceived(t, s.summary().Message)
}

// TestBlockVolumesSyncByChecksumSendingOnlyChangedBlocks: a Block source device reaches a Block
// destination device equal by checksum of the whole device, first in full and then, after 1 % of
// its 4 KiB blocks changed at random, by sending under 3 % of the device's bytes.
func TestBlockVolumesSyncByChecksumSendingOnlyChangedBlocks(t *testing.T) {
	const size = 64 << 20
	for _, kind := range allKinds {
		t.Run(kind.Name, func(t *testing.T) {
			src, dst := loopDevice(t, size), loopDevice(t, size)
			fillDevice(t, src, size/2, 31) // half written, half still zeros
			k := makeKeys(t, asRoot)

			syncDevices(t, kind, src, dst, k)
			if a, b := deviceSum(t, src), deviceSum(t, dst); a != b {
				t.Fatalf("after the first sync the devices differ: %s / %s", a, b)
			}
			changed := changeBlocks(t, src, size, 0.01, 32)
			moved := syncDevices(t, kind, src, dst, k)
			if a, b := deviceSum(t, src), deviceSum(t, dst); a != b {
				t.Fatalf("after the incremental sync the devices differ: %s / %s", a, b)
			}
			if limit := int64(size * 3 / 100); moved > limit {
				t.Errorf("the incremental sync moved %d bytes for %d changed; want under 3 %% of the device (%d)", moved, changed, limit)
			}
			t.Logf("%s: %d bytes changed, %d bytes crossed the network (%.2f %% of the device)", kind.Name, changed, moved, 100*float64(moved)/size)
		})
	}
}

// TestBlockAndFileSystemEndsRefuseEachOther: a Block source and a file-system destination, or the
// other way round, fail at once with a message naming volumeMode, and the destination is untouched.
func TestBlockAndFileSystemEndsRefuseEachOther(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.Name, func(t *testing.T) {
			k := makeKeys(t, asRoot)
			dev := loopDevice(t, 8<<20)
			fillDevice(t, dev, 8<<20, 41)
			before := deviceSum(t, dev)
			dir := tempDir(t, asRoot, "fs")
			makeTree(t, dir, treeSpec{SmallFiles: 10, SmallSize: 100, Seed: 42})

			for _, tc := range []struct {
				name           string
				srcEnv, dstEnv map[string]string
				srcDir, dstDir string
				want           string
			}{
				{"a block source into a file system", map[string]string{"DATA_DEVICE": dev}, nil, t.TempDir(), tempDir(t, asRoot, "dst"),
					"set the ReplicationDestination's volumeMode to Block"},
				{"a file system into a block destination", nil, map[string]string{"DATA_DEVICE": dev}, dir, t.TempDir(),
					"set the ReplicationDestination's volumeMode to Filesystem"},
			} {
				d, port := startDestination(t, kind, asRoot, tc.dstDir, k, tc.dstEnv)
				start := time.Now()
				s := startSource(t, kind, asRoot, tc.srcDir, k.Source, port, tc.srcEnv)
				if code := s.wait(time.Minute); code == 0 {
					t.Fatalf("%s: the source succeeded", tc.name)
				}
				if msg := s.summary().Message; !strings.Contains(msg, "volumeMode mismatch") || !strings.Contains(msg, tc.want) {
					t.Errorf("%s: summary %q, want the mismatch and %q", tc.name, msg, tc.want)
				}
				if took := time.Since(start); took > 30*time.Second {
					t.Errorf("%s: the source retried for %s instead of giving up", tc.name, took)
				}
				d.kill()
				if after := deviceSum(t, dev); after != before {
					t.Fatalf("%s: the device changed", tc.name)
				}
				entries, _ := os.ReadDir(tc.dstDir)
				for _, e := range entries {
					if !moverOwned(e.Name()) {
						t.Errorf("%s: the file system destination received %s", tc.name, e.Name())
					}
				}
			}
		})
	}
}

// BenchmarkBlockDevice times a 1 GiB block device through each rsync mover, in full and after
// 1 % of its 4 KiB blocks changed at random, and prints what crossed the network, with dd of the
// whole device as the floor (make bench-dataplane). VOLSYNC_BENCH_MIB scales the device.
func BenchmarkBlockDevice(b *testing.B) {
	size := int64(1024) << 20
	if v, err := strconv.ParseInt(os.Getenv("VOLSYNC_BENCH_MIB"), 10, 64); err == nil && v >= 16 {
		size = v << 20
	}
	src := loopDevice(b, size)
	fillDevice(b, src, size*3/4, 51)
	k := makeKeys(b, asRoot)
	type row struct {
		name                 string
		initial, incremental time.Duration
		moved, changed       int64
	}
	var rows []row
	floor := loopDevice(b, size)
	start := time.Now()
	if out, err := exec.Command("dd", "if="+src, "of="+floor, "bs=4M", "conv=fsync", "status=none").CombinedOutput(); err != nil {
		b.Fatalf("dd: %v: %s", err, out)
	}
	rows = append(rows, row{name: "dd of the whole device", initial: time.Since(start)})
	for i, kind := range allKinds {
		dst := loopDevice(b, size)
		start := time.Now()
		syncDevices(b, kind, src, dst, k)
		initial := time.Since(start)
		changed := changeBlocks(b, src, size, 0.01, uint64(52+i))
		start = time.Now()
		moved := syncDevices(b, kind, src, dst, k)
		incremental := time.Since(start)
		if a, c := deviceSum(b, src), deviceSum(b, dst); a != c {
			b.Fatalf("%s: the devices differ after the incremental sync", kind.Name)
		}
		rows = append(rows, row{kind.Name, initial, incremental, moved, changed})
		b.ReportMetric(100*float64(moved)/float64(size), kind.Name+"-moved-%")
	}
	fmt.Printf("\n%d MiB block device, 1 %% of its 4 KiB blocks changed at random\n", size>>20)
	fmt.Printf("%-24s %10s %14s %14s %10s\n", "", "initial", "1% changed", "bytes moved", "of device")
	for _, r := range rows {
		if r.moved == 0 {
			fmt.Printf("%-24s %9.2fs\n", r.name, r.initial.Seconds())
			continue
		}
		fmt.Printf("%-24s %9.2fs %13.2fs %14d %9.2f%%\n", r.name, r.initial.Seconds(), r.incremental.Seconds(), r.moved, 100*float64(r.moved)/float64(size))
	}
	fmt.Println()
}
