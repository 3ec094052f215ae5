package syncthing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// FolderID is the Syncthing folder the volume is shared as. VolSync's mover shares Syncthing's
// "default" folder, so a volsync device and a VolSync device that peer share the same folder.
const FolderID = "default"

// Desired is the configuration the mover keeps Syncthing at.
type Desired struct {
	// Peers are the spec's peers.
	Peers []volsyncv1alpha1.SyncthingPeer
	// DataDir is the folder's path: where the volume is mounted.
	DataDir string
	// ListenAddress is where Syncthing accepts peers, such as tcp://0.0.0.0:22000.
	ListenAddress string
	// GUIUser and GUIPassword lock the web GUI; the REST API is reached with the API key.
	GUIUser, GUIPassword string
}

// options are Syncthing's global options for a volume in a cluster: peers are reached at the
// addresses the spec gives, so discovery, relays, NAT traversal, usage reports and upgrades,
// which all reach out to the Internet, stay off.
func (d Desired) options() Options {
	return Options{ListenAddresses: []string{d.ListenAddress}, URAccepted: -1}
}

// NormalizeID is a device ID as Syncthing prints it: upper case, in groups of 7 joined by dashes.
// Spec IDs may come without dashes or in lower case.
func NormalizeID(id string) string {
	raw := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(id))
	var groups []string
	for len(raw) > 7 {
		groups = append(groups, raw[:7])
		raw = raw[7:]
	}
	return strings.Join(append(groups, raw), "-")
}

// State is what Configure found once Syncthing matched Desired: the status to publish.
type State struct {
	MyID  string
	Peers []volsyncv1alpha1.SyncthingPeerStatus
}

// Configure brings Syncthing's configuration to d, writing only what differs, and reports the
// state to publish. It is idempotent: a pass that finds everything in place writes nothing.
func Configure(ctx context.Context, c *Client, d Desired) (*State, error) {
	myID, err := c.MyID(ctx)
	if err != nil {
		return nil, err
	}
	want := map[string]volsyncv1alpha1.SyncthingPeer{}
	for _, p := range d.Peers {
		id := NormalizeID(p.ID)
		if id == myID {
			return nil, fmt.Errorf("spec.syncthing.peers lists this device itself (%s): list the other devices only", myID)
		}
		want[id] = p
	}
	cfg, err := c.Config(ctx)
	if err != nil {
		return nil, err
	}
	if !optionsMatch(cfg.Options, d.options()) {
		o := d.options()
		if err := c.PatchOptions(ctx, map[string]any{
			"listenAddresses": o.ListenAddresses, "globalAnnounceEnabled": false, "localAnnounceEnabled": false,
			"relaysEnabled": false, "natEnabled": false, "urAccepted": o.URAccepted, "crashReportingEnabled": false,
			"autoUpgradeIntervalH": 0,
		}); err != nil {
			return nil, err
		}
	}
	if cfg.GUI.User != d.GUIUser || cfg.GUI.Password == "" {
		// A GUI change restarts the API's listener, sometimes before the answer is written: a
		// connection closed then is not a failure. Wait until the API answers again and read
		// back whether the change took.
		patchErr := c.PatchGUI(ctx, map[string]any{"user": d.GUIUser, "password": d.GUIPassword})
		if patchErr != nil && !connectionDropped(patchErr) {
			return nil, patchErr
		}
		if err := waitForAPI(ctx, c, 15*time.Second); err != nil {
			return nil, err
		}
		if patchErr != nil {
			again, err := c.Config(ctx)
			if err != nil {
				return nil, err
			}
			if again.GUI.User != d.GUIUser {
				return nil, patchErr
			}
		}
	}

	have := map[string]Device{}
	for _, dev := range cfg.Devices {
		have[NormalizeID(dev.DeviceID)] = dev
	}
	for id, p := range want {
		cur, ok := have[id]
		if ok && slices.Equal(cur.Addresses, []string{p.Address}) && cur.Introducer == p.Introducer {
			continue
		}
		if err := c.PatchDevice(ctx, id, map[string]any{"addresses": []string{p.Address}, "introducer": p.Introducer}); err != nil {
			return nil, err
		}
	}
	for id, dev := range have {
		if _, listed := want[id]; listed || id == myID || keep(dev, want) {
			continue
		}
		if err := c.DeleteDevice(ctx, dev.DeviceID); err != nil {
			return nil, err
		}
	}

	// The folder is shared with every device now configured: the peers and whoever an introducer
	// brought.
	cfg, err = c.Config(ctx)
	if err != nil {
		return nil, err
	}
	var shareWith []string
	for _, dev := range cfg.Devices {
		shareWith = append(shareWith, NormalizeID(dev.DeviceID))
	}
	sort.Strings(shareWith)
	if !folderMatches(cfg.Folders, d.DataDir, shareWith) {
		devices := make([]map[string]any, 0, len(shareWith))
		for _, id := range shareWith {
			devices = append(devices, map[string]any{"deviceID": id})
		}
		if err := c.PatchFolder(ctx, FolderID, map[string]any{
			"label": "volsync", "path": d.DataDir, "type": "sendreceive", "devices": devices, "paused": false,
		}); err != nil {
			return nil, err
		}
	}

	conns, err := c.Connections(ctx)
	if err != nil {
		return nil, err
	}
	st := &State{MyID: myID}
	for _, dev := range cfg.Devices {
		id := NormalizeID(dev.DeviceID)
		if id == myID {
			continue
		}
		ps := volsyncv1alpha1.SyncthingPeerStatus{ID: id, Name: dev.Name}
		if dev.IntroducedBy != "" {
			ps.IntroducedBy = NormalizeID(dev.IntroducedBy)
		}
		if len(dev.Addresses) > 0 {
			ps.Address = dev.Addresses[0]
		}
		if conn, ok := conns[dev.DeviceID]; ok {
			ps.Connected = conn.Connected
			if conn.Connected && conn.Address != "" {
				ps.Address = "tcp://" + strings.TrimPrefix(conn.Address, "tcp://")
			}
		}
		st.Peers = append(st.Peers, ps)
	}
	sort.Slice(st.Peers, func(i, j int) bool { return st.Peers[i].ID < st.Peers[j].ID })
	return st, nil
}

// waitForAPI polls the API until it answers or within is over.
func waitForAPI(ctx context.Context, c *Client, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := c.MyID(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the API did not come back after a GUI change: %w", err)
		case <-tick.C:
		}
	}
}

// keep says whether a configured device that the spec does not list stays: one an introducer peer
// brought, while that introducer is still a listed introducer. Syncthing itself removes it when
// the introducer stops sharing it.
func keep(dev Device, want map[string]volsyncv1alpha1.SyncthingPeer) bool {
	if dev.IntroducedBy == "" {
		return false
	}
	by, ok := want[NormalizeID(dev.IntroducedBy)]
	return ok && by.Introducer
}

func optionsMatch(have, want Options) bool {
	return slices.Equal(have.ListenAddresses, want.ListenAddresses) && !have.GlobalAnnounceEnabled &&
		!have.LocalAnnounceEnabled && !have.RelaysEnabled && !have.NATEnabled && have.URAccepted == want.URAccepted &&
		!have.CrashReportingEnabled && have.AutoUpgradeIntervalH == 0
}

func folderMatches(folders []Folder, path string, shareWith []string) bool {
	for _, f := range folders {
		if f.ID != FolderID {
			continue
		}
		var ids []string
		for _, d := range f.Devices {
			ids = append(ids, NormalizeID(d.DeviceID))
		}
		sort.Strings(ids)
		return f.Path == path && f.Type == "sendreceive" && !f.Paused && slices.Equal(ids, shareWith)
	}
	return false
}

// connectionDropped says whether err is the API's connection closing before its answer.
func connectionDropped(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
