package rsync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

// Block volumes (volumeMode Block) move as one device: rsync reads the source device as a file
// (--copy-devices) and writes into the destination device (--write-devices, which is in place),
// and its delta algorithm, with 4 KiB blocks, sends only the blocks that changed. rsync checks
// every transferred file against a whole-file checksum, so a device that arrives is the source's
// byte for byte.

// DeviceTarget is the destination path a block source names. The destination maps it to its
// device; it also tells a file-system destination that a block source is calling, so that a mode
// mismatch is refused before any byte moves.
const DeviceTarget = ".volsync-device"

// BlockFlags are rsync's flags for a device: no recursion or metadata (a device has neither), 4 KiB
// blocks so that a scattered 1 % change costs about 1 % of the device, compression, since an
// unwritten device is mostly zeros, and --ignore-times: a device node's size and time say nothing
// about its contents, so rsync's quick check would skip a changed device.
var BlockFlags = []string{"-z", "--ignore-times", "--copy-devices", "--write-devices", "--inplace", "--no-whole-file", "--block-size=4096", "--stats", "--numeric-ids"}

// ModeMismatch starts the message a destination gives when the two ends' volumeModes differ;
// a source that reads it gives up at once instead of retrying.
const ModeMismatch = "volsync: volumeMode mismatch:"

// deviceMarker, in a destination's state directory, holds the path of the device this destination
// writes into (DATA_DEVICE).
const deviceMarker = "device"

// BlockDevice checks that path is a block device this process can open for mode (os.O_RDONLY on
// a source, os.O_RDWR on a destination), with a message that says what to do when it cannot.
func BlockDevice(path string, mode int) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("the block volume is not attached at DATA_DEVICE %s: %w", path, err)
	}
	if info.Mode()&fs.ModeDevice == 0 || info.Mode()&fs.ModeCharDevice != 0 {
		return fmt.Errorf("DATA_DEVICE %s is not a block device (%s)", path, info.Mode())
	}
	f, err := os.OpenFile(path, mode, 0)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("cannot open the block volume %s: %w; a Block PVC needs a privileged mover (annotate the namespace volsync.backube/privileged-movers: \"true\")", path, err)
		}
		return fmt.Errorf("cannot open the block volume %s: %w", path, err)
	}
	return f.Close()
}

// SourceData is what a source sends: the device of a Block PVC (DATA_DEVICE) or the directory of
// a file system (dataDir), and the destination path that names it.
func SourceData(dataDir string) (from, to string, device bool, err error) {
	if dev := os.Getenv("DATA_DEVICE"); dev != "" {
		if err := BlockDevice(dev, os.O_RDONLY); err != nil {
			return "", "", false, err
		}
		return dev, DeviceTarget, true, nil
	}
	if _, err := os.Stat(dataDir); err != nil {
		return "", "", false, fmt.Errorf("the source volume is not mounted: %w", err)
	}
	return dataDir, StagingDir + "/", false, nil
}

// PrepareDestination readies what a destination receives into, before it listens: the device of
// a Block PVC (DATA_DEVICE), recorded in state for Serve; or the file system at dataDir, where a
// commit an earlier run began is finished, then the receive mode chosen.
func PrepareDestination(log *entrypoint.Logger, dataDir, state string) error {
	if dev := os.Getenv("DATA_DEVICE"); dev != "" {
		if err := BlockDevice(dev, os.O_RDWR); err != nil {
			return err
		}
		log.Printf("receiving into the block device %s in place, only the blocks that changed", dev)
		return os.WriteFile(filepath.Join(state, deviceMarker), []byte(dev), 0o600)
	}
	if _, err := os.Stat(dataDir); err != nil {
		return fmt.Errorf("the destination volume is not mounted: %w", err)
	}
	if done, err := RecoverImage(dataDir); err != nil {
		return fmt.Errorf("finishing the commit that an earlier run began: %w", err)
	} else if done {
		log.Printf("finished the commit of the previous sync, which had been interrupted")
	}
	return ChooseReceiveMode(log, dataDir, state)
}

// destinationDevice is the device a destination writes into, or "" for a file system.
func destinationDevice(state string) string {
	b, err := os.ReadFile(filepath.Join(state, deviceMarker))
	if err != nil {
		return ""
	}
	return string(b)
}

// deviceReceiverArgs checks a block source's request and points it at device: --write-devices
// and --inplace are the destination's own, whatever the source asked.
func deviceReceiverArgs(words []string, device string) ([]string, error) {
	opts, err := receiverOptions(words)
	if err != nil {
		return nil, err
	}
	var argv []string
	for _, w := range opts {
		if w != "--write-devices" && w != "--inplace" {
			argv = append(argv, w)
		}
	}
	return append(argv, "--write-devices", "--inplace", ".", device), nil
}

// checkModes refuses a request whose source volumeMode differs from the destination's: a device
// cannot be unpacked into a file system, nor a tree written onto a device.
func checkModes(words []string, device string) error {
	return checkSourceMode(len(words) > 0 && strings.TrimSuffix(words[len(words)-1], "/") == DeviceTarget, device)
}

func checkSourceMode(fromDevice bool, device string) error {
	switch {
	case fromDevice && device == "":
		return fmt.Errorf("%s the source is a block volume (volumeMode Block) and this destination a file system; set the ReplicationDestination's volumeMode to Block", ModeMismatch)
	case !fromDevice && device != "":
		return fmt.Errorf("%s the source is a file system and this destination a block volume (volumeMode Block); set the ReplicationDestination's volumeMode to Filesystem, or replicate a Block PVC", ModeMismatch)
	}
	return nil
}

// syncDevice flushes what was written into device.
func syncDevice(device string) error {
	f, err := os.OpenFile(device, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("flushing the block device: %w", err)
	}
	return nil
}

// DeviceMessage is a block sync's summary: the device's size and what crossed the network.
func DeviceMessage(s Stats, to string) string {
	return fmt.Sprintf("synchronized the block device (%d bytes) to %s: %d bytes sent, %d received", s.BytesTransferred, to, s.Sent, s.Received)
}

// modeCommand asks the destination, before any transfer, whether the source's volumeMode is its
// own. rsync over ssh shows the destination's refusal on its own, since ssh carries the remote
// error output; through stunnel it does not, so rsync-tls asks first.
const modeCommand = "volsync-mode"

// ModesAgree is the destination's answer when the source's volumeMode is its own.
const ModesAgree = "volsync: volumeModes agree"

// ModeRequest is the request that asks; block says the source sends a device.
func ModeRequest(block bool) string {
	if block {
		return modeCommand + " Block"
	}
	return modeCommand + " Filesystem"
}
