package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// defaultCapacity is what a volume records when the claim asks for no size.
const defaultCapacity = 1 << 30

// Driver serves the CSI Identity, Controller and Node services over one Store: on a single node the
// controller and the node share the disk.
type Driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer

	Name    string
	Version string
	NodeID  string
	Store   *Store
	Now     func() time.Time
}

// grpcError maps store errors to the codes the CSI spec asks for.
func grpcError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrConflict):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, ErrBadID):
		return status.Error(codes.InvalidArgument, err.Error())
	default:
		return status.Error(codes.Internal, err.Error())
	}
}

// --- Identity -----------------------------------------------------------------------------------

// GetPluginInfo names the driver.
func (d *Driver) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: d.Name, VendorVersion: d.Version}, nil
}

// GetPluginCapabilities says the driver has a controller service and no topology.
func (d *Driver) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{{
		Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{
			Type: csi.PluginCapability_Service_CONTROLLER_SERVICE,
		}},
	}}}, nil
}

// Probe answers ready: the store is made before the servers start.
func (d *Driver) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{}, nil
}

// --- Controller ---------------------------------------------------------------------------------

// ControllerGetCapabilities lists what the controller does: volumes, snapshots, clones.
func (d *Driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, c := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
		csi.ControllerServiceCapability_RPC_LIST_SNAPSHOTS,
		csi.ControllerServiceCapability_RPC_CLONE_VOLUME,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{
			Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: c}},
		})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

// checkCapabilities accepts filesystem or raw block volumes in any access mode (there is one node),
// all of one kind, and says whether they are block.
func checkCapabilities(caps []*csi.VolumeCapability) (block bool, err error) {
	if len(caps) == 0 {
		return false, status.Error(codes.InvalidArgument, "volume capabilities are required")
	}
	for i, c := range caps {
		b := c.GetBlock() != nil
		if !b && c.GetMount() == nil {
			return false, status.Error(codes.InvalidArgument, "a volume capability names neither block nor mount access")
		}
		if i > 0 && b != block {
			return false, status.Error(codes.InvalidArgument, "a volume is either block or mount, not both")
		}
		block = b
	}
	return block, nil
}

// CreateVolume makes an empty volume, or one from a snapshot or a clone of another volume.
func (d *Driver) CreateVolume(_ context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is required")
	}
	block, err := checkCapabilities(req.GetVolumeCapabilities())
	if err != nil {
		return nil, err
	}
	capacity := req.GetCapacityRange().GetRequiredBytes()
	if capacity == 0 {
		capacity = defaultCapacity
	}
	src := req.GetVolumeContentSource()
	m, err := d.Store.Create(VolumeMeta{
		CapacityBytes: capacity, Block: block,
		SourceSnap: src.GetSnapshot().GetSnapshotId(), SourceVolume: src.GetVolume().GetVolumeId(),
	}, req.GetName())
	if err != nil {
		return nil, grpcError(err)
	}
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{
		VolumeId: req.GetName(), CapacityBytes: m.CapacityBytes, ContentSource: src,
	}}, nil
}

// DeleteVolume removes a volume; deleting one that is gone succeeds.
func (d *Driver) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id is required")
	}
	return &csi.DeleteVolumeResponse{}, grpcError(d.Store.DeleteVolume(req.GetVolumeId()))
}

// ValidateVolumeCapabilities confirms capabilities of an existing volume's mode (block or mount).
func (d *Driver) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	m, err := d.Store.Volume(req.GetVolumeId())
	if err != nil {
		return nil, grpcError(err)
	}
	block, err := checkCapabilities(req.GetVolumeCapabilities())
	if err != nil {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: status.Convert(err).Message()}, nil
	}
	if block != m.Block {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: "the volume is of the other volume mode"}, nil
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeCapabilities: req.GetVolumeCapabilities(),
	}}, nil
}

func (d *Driver) snapshotProto(m SnapshotMeta) *csi.Snapshot {
	return &csi.Snapshot{
		SnapshotId: m.ID, SourceVolumeId: m.SourceVolume, SizeBytes: m.SizeBytes,
		CreationTime: timestamppb.New(m.CreationTime), ReadyToUse: true,
	}
}

// CreateSnapshot copies the source volume; the copy is ready when the call returns.
func (d *Driver) CreateSnapshot(_ context.Context, req *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	if req.GetName() == "" || req.GetSourceVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "name and source volume id are required")
	}
	m, err := d.Store.CreateSnapshot(req.GetName(), req.GetSourceVolumeId(), d.Now())
	if err != nil {
		return nil, grpcError(err)
	}
	return &csi.CreateSnapshotResponse{Snapshot: d.snapshotProto(m)}, nil
}

// DeleteSnapshot removes a snapshot; deleting one that is gone succeeds.
func (d *Driver) DeleteSnapshot(_ context.Context, req *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	if req.GetSnapshotId() == "" {
		return nil, status.Error(codes.InvalidArgument, "snapshot id is required")
	}
	return &csi.DeleteSnapshotResponse{}, grpcError(d.Store.DeleteSnapshot(req.GetSnapshotId()))
}

// ListSnapshots lists one snapshot, the snapshots of one volume, or all, in one page.
func (d *Driver) ListSnapshots(_ context.Context, req *csi.ListSnapshotsRequest) (*csi.ListSnapshotsResponse, error) {
	all, err := d.Store.Snapshots()
	if err != nil {
		return nil, grpcError(err)
	}
	resp := &csi.ListSnapshotsResponse{}
	for _, m := range all {
		if id := req.GetSnapshotId(); id != "" && m.ID != id {
			continue
		}
		if v := req.GetSourceVolumeId(); v != "" && m.SourceVolume != v {
			continue
		}
		resp.Entries = append(resp.Entries, &csi.ListSnapshotsResponse_Entry{Snapshot: d.snapshotProto(m)})
	}
	return resp, nil
}

// --- Node ---------------------------------------------------------------------------------------

// NodeGetInfo names the node; volumes have no topology.
func (d *Driver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: d.NodeID}, nil
}

// NodeGetCapabilities: no staging step, a bind mount is all there is.
func (d *Driver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{}, nil
}

// NodePublishVolume bind-mounts the volume's directory at the pod's target path; for a block
// volume, it attaches the image to a loop device and bind-mounts the device onto the target file.
func (d *Driver) NodePublishVolume(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	target := req.GetTargetPath()
	if req.GetVolumeId() == "" || target == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id and target path are required")
	}
	block, err := checkCapabilities([]*csi.VolumeCapability{req.GetVolumeCapability()})
	if err != nil {
		return nil, err
	}
	m, err := d.Store.Volume(req.GetVolumeId())
	if err != nil {
		return nil, grpcError(err)
	}
	if block != m.Block {
		return nil, status.Errorf(codes.InvalidArgument, "volume %s is of the other volume mode", req.GetVolumeId())
	}
	mounted, err := isMountPoint(target)
	if err != nil {
		return nil, grpcError(err)
	}
	if mounted {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	source := d.Store.VolumePath(req.GetVolumeId())
	if block {
		// Kubelet makes the target's directory; the target is a file the device is mounted on.
		if source, err = AttachLoop(d.Store.ImagePath(req.GetVolumeId())); err != nil {
			return nil, grpcError(err)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
			return nil, grpcError(err)
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o640)
		if err != nil {
			return nil, grpcError(err)
		}
		f.Close()
	} else if err := os.MkdirAll(target, 0o750); err != nil {
		return nil, grpcError(err)
	}
	if err := syscall.Mount(source, target, "", syscall.MS_BIND, ""); err != nil {
		return nil, grpcError(fmt.Errorf("bind-mounting volume %s (%s) at %s: %w", req.GetVolumeId(), source, target, err))
	}
	if req.GetReadonly() {
		if err := syscall.Mount("", target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			_ = syscall.Unmount(target, 0)
			return nil, grpcError(fmt.Errorf("making %s read-only: %w", target, err))
		}
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

// NodeUnpublishVolume unmounts the target path and removes it; a target that is gone is done.
func (d *Driver) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	target := req.GetTargetPath()
	if req.GetVolumeId() == "" || target == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id and target path are required")
	}
	mounted, err := isMountPoint(target)
	if err != nil {
		return nil, grpcError(err)
	}
	if mounted {
		if err := syscall.Unmount(target, 0); err != nil {
			return nil, grpcError(fmt.Errorf("unmounting %s: %w", target, err))
		}
	}
	if err := os.Remove(target); err != nil && !os.IsNotExist(err) {
		return nil, grpcError(err)
	}
	// A block volume's loop device goes with its last publish (a retry finds none left).
	if m, err := d.Store.Volume(req.GetVolumeId()); err == nil && m.Block {
		if err := d.detachUnpublished(req.GetVolumeId()); err != nil {
			return nil, grpcError(err)
		}
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// detachUnpublished detaches the loop devices of a block volume's image that no target path has
// mounted any more.
func (d *Driver) detachUnpublished(id string) error {
	loops, err := LoopsOf(d.Store.ImagePath(id))
	if err != nil {
		return err
	}
	for _, l := range loops {
		inUse, err := deviceMounted(l)
		if err != nil {
			return err
		}
		if inUse {
			continue
		}
		if out, err := exec.Command("losetup", "--detach", l).CombinedOutput(); err != nil {
			return fmt.Errorf("losetup --detach %s: %v: %s", l, err, out)
		}
	}
	return nil
}

// deviceMounted says whether a bind mount of device (a /dev node) is in the mount table: its root
// within devtmpfs is the device's name.
func deviceMounted(device string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	want := "/" + filepath.Base(device)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountPath(fields[3]) == want {
			return true, nil
		}
	}
	return false, sc.Err()
}

// isMountPoint reads the mount table rather than comparing devices: a bind mount of a directory on
// the same file system has the same device as its parent.
func isMountPoint(path string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountPath(fields[4]) == path {
			return true, nil
		}
	}
	return false, sc.Err()
}

// unescapeMountPath undoes the octal escapes mountinfo uses for space, tab, newline and backslash.
func unescapeMountPath(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// --- kubelet plugin registration ------------------------------------------------------------------

// Registration answers kubelet's plugin watcher, which finds the socket in its plugins_registry
// directory; it is what node-driver-registrar does, built in.
type Registration struct {
	registerapi.UnimplementedRegistrationServer
	Name     string
	Endpoint string
}

// GetInfo tells kubelet the driver's name and CSI socket.
func (r *Registration) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	return &registerapi.PluginInfo{
		Type: registerapi.CSIPlugin, Name: r.Name, Endpoint: r.Endpoint, SupportedVersions: []string{"1.0.0"},
	}, nil
}

// NotifyRegistrationStatus logs kubelet's answer; a refusal is fatal, as a driver kubelet does not
// know cannot mount anything.
func (r *Registration) NotifyRegistrationStatus(_ context.Context, s *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	if !s.GetPluginRegistered() {
		slog.Error("kubelet refused the plugin registration", "error", s.GetError())
		os.Exit(1)
	}
	slog.Info("registered with kubelet", "driver", r.Name)
	return &registerapi.RegistrationStatusResponse{}, nil
}
