package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
)

// replicationRelationshipCommand is `replication -r NAME create|set-source|set-destination|
// schedule|sync|delete`, VolSync's plugin verbs.
func (a *app) replicationRelationshipCommand() *cobra.Command {
	group, f := a.relationshipGroup(cli.ReplicationRelationship,
		"Replicate a PVC into another namespace or cluster, with VolSync's relationship verbs",
		`Replicate the contents of one PVC to another, in the same namespace, across namespaces or across
clusters, with the rsync (ssh) mover: the verbs of VolSync's kubectl plugin.

A relationship is a file in --config-dir (default ~/.volsync) that records both ends. create makes
an empty one; set-source and set-destination record the ends, and remove what the relationship had
created for the previous ones; schedule and sync create or update the ReplicationDestination, wait
for its address and ssh keys, copy the keys Secret to the source, and create or update the
ReplicationSource. delete removes those objects and the file. PVCs are never deleted.

Objects are addressed as [context/]namespace/name, the context being one of the kubeconfig; without
it, --context or the current context. For the seed's config.yaml workflow, see start-replication.`,
		`  volsyncctl replication -r example create
  volsyncctl replication -r example set-source --pvcname kind/source/datavol --copymethod Clone
  volsyncctl replication -r example set-destination --destination gcp/destns/datavol --servicetype LoadBalancer
  volsyncctl replication -r example schedule --cronspec '*/5 * * * *'
  volsyncctl replication -r example sync
  volsyncctl replication -r example delete`)
	group.AddCommand(a.replicationCreateCommand(f), a.replicationSetSourceCommand(f), a.replicationSetDestinationCommand(f),
		a.replicationScheduleCommand(f), a.replicationSyncCommand(f), a.replicationDeleteCommand(f))
	return group
}

func (a *app) replicationCreateCommand(f *relationshipFlags) *cobra.Command {
	var rsyncTLS bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a new, empty replication relationship",
		Long: `Create a new, empty replication relationship: the file <config-dir>/<relationship>.yaml. Then set
its source (set-source) and destination (set-destination). A relationship of that name must not
exist yet.`,
		Args: nameArgsNone,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.required(cmd); err != nil {
				return err
			}
			if rsyncTLS {
				return errRsyncTLS()
			}
			rel, err := cli.NewRelationship(f.dir, f.name, cli.ReplicationRelationship)
			if err != nil {
				return err
			}
			if err := rel.Save(); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "replication relationship %q created (%s): set its source and destination next\n", rel.Name, rel.Path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&rsyncTLS, "rsynctls", false, "use the rsync-tls mover (not supported: volsyncctl relationships use rsync over ssh)")
	return cmd
}

// errRsyncTLS refuses VolSync's --rsynctls.
func errRsyncTLS() error {
	return cli.Hint(errors.New("--rsynctls is not supported: volsyncctl relationships replicate with rsync over ssh"),
		"drop --rsynctls; for rsync-tls, create the ReplicationSource and ReplicationDestination yourself")
}

func (a *app) replicationSetSourceCommand(f *relationshipFlags) *cobra.Command {
	var pvcName, copyMethod, storageClass, snapshotClass string
	var accessModes []string
	cmd := &cobra.Command{
		Use:   "set-source --pvcname [context/]namespace/name",
		Short: "Set the source of the replication",
		Long: `Set the PVC to replicate. It must exist. The ReplicationSource and its copy of the ssh keys that the
relationship created for a previous source are deleted; schedule or sync creates them again.
--copymethod is how the source takes a point-in-time copy before each sync: Clone (the default),
Snapshot, or None/Direct (the live volume).`,
		Example: `  volsyncctl replication -r example set-source --pvcname kind/source/datavol
  volsyncctl replication -r example set-source --pvcname source/datavol --copymethod Snapshot --volumesnapshotclass csi-snapclass`,
		Args: nameArgsNone,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pvcName == "" {
				return cli.Hint(errors.New("--pvcname is not set"), "name the PVC to replicate, such as --pvcname kind/source/datavol")
			}
			addr, err := cli.ParseObjectAddress("pvcname", pvcName)
			if err != nil {
				return err
			}
			method, err := cli.ParseCopyMethod("copymethod", copyMethod, true)
			if err != nil {
				return err
			}
			modes, err := cli.ParseAccessModes("accessmodes", accessModes)
			if err != nil {
				return err
			}
			rel, err := f.load(cmd, cli.ReplicationRelationship)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := a.side(addr.Context)
			if err != nil {
				return err
			}
			if err := checkPVC(ctx, s, addr.Namespace, addr.Name, "pvcname"); err != nil {
				return err
			}
			a.removeReplicationObjects(ctx, rel, false)
			rel.Replication.Source = &cli.ReplicationSourceSide{
				Cluster: addr.Context, Namespace: addr.Namespace, PVCName: addr.Name,
				// One PVC may be the source of several relationships: each has its own name.
				RSName: addr.Name + "-" + rand.String(5),
				VolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{CopyMethod: method, AccessModes: modes,
					StorageClassName: optionalString(storageClass), VolumeSnapshotClassName: optionalString(snapshotClass)},
			}
			if err := rel.Save(); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "replication %q: source set to persistentvolumeclaim %s (copy method %s)\n", rel.Name, addr, method)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&pvcName, "pvcname", "", "PVC to replicate: [context/]namespace/name (required)")
	fs.StringVar(&copyMethod, "copymethod", string(volsyncv1alpha1.CopyMethodClone), "how to take the point-in-time copy: Clone, Snapshot, None or Direct")
	fs.StringSliceVar(&accessModes, "accessmodes", nil, "access modes of the point-in-time copy (e.g. ReadWriteOnce); default those of the PVC")
	fs.StringVar(&storageClass, "storageclass", "", "StorageClass of the point-in-time copy")
	fs.StringVar(&snapshotClass, "volumesnapshotclass", "", "VolumeSnapshotClass of the source's snapshots")
	return cmd
}

func (a *app) replicationSetDestinationCommand(f *relationshipFlags) *cobra.Command {
	var destination, capacity, copyMethod, serviceType, storageClass, snapshotClass string
	var accessModes []string
	cmd := &cobra.Command{
		Use:   "set-destination --destination [context/]namespace/name",
		Short: "Set the destination of the replication",
		Long: `Set the destination: the ReplicationDestination's namespace and name. The objects the relationship
created for a previous destination are deleted; schedule or sync creates them again.

--copymethod is what the destination keeps of each sync: Snapshot (the default) takes a
VolumeSnapshot of a volume volsync provisions, sized and accessed as the source PVC unless
--capacity and --accessmodes say otherwise; None or Direct writes into a PVC of the destination's
name, which schedule or sync creates when it does not exist. --servicetype is how the source
reaches it: ClusterIP (the default) within a cluster, LoadBalancer across clusters.`,
		Example: `  volsyncctl replication -r example set-destination --destination gcp/destns/datavol --servicetype LoadBalancer \
      --storageclass standard-csi --volumesnapshotclass csi-gce-pd-vsc`,
		Args: nameArgsNone,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if destination == "" {
				return cli.Hint(errors.New("--destination is not set"), "name the destination, such as --destination gcp/destns/datavol")
			}
			addr, err := cli.ParseObjectAddress("destination", destination)
			if err != nil {
				return err
			}
			method, err := cli.ParseCopyMethod("copymethod", copyMethod, false)
			if err != nil {
				return err
			}
			size, err := cli.ParseCapacity("capacity", capacity)
			if err != nil {
				return err
			}
			modes, err := cli.ParseAccessModes("accessmodes", accessModes)
			if err != nil {
				return err
			}
			svc, err := cli.ParseServiceType("servicetype", serviceType)
			if err != nil {
				return err
			}
			rel, err := f.load(cmd, cli.ReplicationRelationship)
			if err != nil {
				return err
			}
			a.removeReplicationObjects(cmd.Context(), rel, false)
			rel.Replication.Destination = &cli.ReplicationDestinationSide{
				Cluster: addr.Context, Namespace: addr.Namespace, RDName: addr.Name, ServiceType: &svc,
				VolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{CopyMethod: method, Capacity: size, AccessModes: modes,
					StorageClassName: optionalString(storageClass), VolumeSnapshotClassName: optionalString(snapshotClass)},
			}
			if err := rel.Save(); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "replication %q: destination set to %s (copy method %s, service type %s)\n", rel.Name, addr, method, svc)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&destination, "destination", "", "the destination: [context/]namespace/name (required)")
	fs.StringVar(&copyMethod, "copymethod", string(volsyncv1alpha1.CopyMethodSnapshot), "what the destination keeps of each sync: Snapshot, None or Direct")
	fs.StringVar(&capacity, "capacity", "", "size of the destination volume (e.g. 10Gi); default that of the source PVC")
	fs.StringSliceVar(&accessModes, "accessmodes", nil, "access modes of the destination volume (e.g. ReadWriteOnce); default those of the source PVC")
	fs.StringVar(&serviceType, "servicetype", string(corev1.ServiceTypeClusterIP), "Service the destination listens on: ClusterIP or LoadBalancer")
	fs.StringVar(&storageClass, "storageclass", "", "StorageClass of the destination volume")
	fs.StringVar(&snapshotClass, "volumesnapshotclass", "", "VolumeSnapshotClass of the destination's snapshots")
	return cmd
}

func (a *app) replicationScheduleCommand(f *relationshipFlags) *cobra.Command {
	var cronspec string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "schedule --cronspec SPEC",
		Short: "Replicate on a schedule: create or update the replication's objects",
		Long: `Set the schedule of the replication and create or update its objects: the ReplicationDestination
(and, with copy method None or Direct, its PVC), then, once it publishes its address and ssh keys,
a copy of the keys Secret beside the source PVC and the ReplicationSource, which syncs on the
schedule. Also resumes the schedule after sync.`,
		Example: `  volsyncctl replication -r example schedule --cronspec '*/5 * * * *'`,
		Args:    nameArgsNone,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cronspec == "" {
				return cli.Hint(errors.New("--cronspec is not set"), "give a schedule such as --cronspec '*/5 * * * *'")
			}
			if !cli.ValidCronSpec(cronspec) {
				return cli.Hint(fmt.Errorf("--cronspec %q is not a cron schedule", cronspec), "use 5 fields such as '*/5 * * * *', or a descriptor such as @hourly")
			}
			rel, err := f.load(cmd, cli.ReplicationRelationship)
			if err != nil {
				return err
			}
			trigger := volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To(cronspec)}
			_, err = a.applyReplication(cmd.Context(), rel, timeout, func(*volsyncv1alpha1.ReplicationSource, bool) volsyncv1alpha1.ReplicationTriggerSpec { return trigger })
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "replication %q syncs on the schedule %q\n", rel.Name, cronspec)
			return nil
		},
	}
	cmd.Flags().StringVar(&cronspec, "cronspec", "", "cron schedule of the syncs (required), e.g. '*/5 * * * *'")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up waiting for the destination's address after this long (0: no limit)")
	return cmd
}

func (a *app) replicationSyncCommand(f *relationshipFlags) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Sync once now, and wait for the sync to finish",
		Long: `Create or update the replication's objects as schedule does, with a manual trigger instead of the
schedule, and wait until the ReplicationSource records that sync in status.lastManualSync. The
schedule stays stopped afterwards; run schedule again to resume it.`,
		Example: `  volsyncctl replication -r example sync --timeout 30m`,
		Args:    nameArgsNone,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout < 0 {
				return cli.Hint(fmt.Errorf("--timeout %s is negative", timeout), "pass a duration such as 10m, or 0 to wait as long as it takes")
			}
			rel, err := f.load(cmd, cli.ReplicationRelationship)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var value string
			var failuresBefore int32
			w, err := a.applyReplication(ctx, rel, timeout, func(rs *volsyncv1alpha1.ReplicationSource, exists bool) volsyncv1alpha1.ReplicationTriggerSpec {
				var lastManual string
				var current *volsyncv1alpha1.ReplicationTriggerSpec
				if exists {
					current, lastManual, failuresBefore = rs.Spec.Trigger, rs.Status.LastManualSync, rs.Status.ConsecutiveFailures
				}
				value = manualValue(time.Now(), current, lastManual)
				return volsyncv1alpha1.ReplicationTriggerSpec{Manual: value}
			})
			if err != nil {
				return err
			}
			ref := "replicationsource " + w.source.where(w.rs.Namespace, w.rs.Name)
			fmt.Fprintf(a.out, "%s: manual trigger set (spec.trigger.manual: %s); waiting for the sync\n", ref, value)
			got, err := a.awaitManualSync(ctx, w.source.c, replicatedSource, client.ObjectKeyFromObject(w.rs), value, failuresBefore, timeout)
			if err != nil {
				return err
			}
			took := "synced"
			if d := got.(*volsyncv1alpha1.ReplicationSource).Status.LastSyncDuration; d != nil {
				took = "synced in " + d.Duration.Round(time.Second).String()
			}
			fmt.Fprintf(a.out, "%s %s; run 'volsyncctl replication -r %s schedule --cronspec ...' to resume a schedule\n", ref, took, rel.Name)
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up waiting after this long (0: no limit); the sync goes on")
	return cmd
}

func (a *app) replicationDeleteCommand(f *relationshipFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete",
		Short: "Delete the replication's objects and its relationship file; PVCs stay",
		Long: `Delete what the relationship created, the ReplicationSource and its copy of the ssh keys at the
source and the ReplicationDestination (whose VolumeSnapshots volsync deletes with it), then the
relationship file. PVCs are never deleted: neither the source PVC nor a destination PVC. When a
cluster cannot be reached, the file stays, so that delete can be run again.`,
		Args: nameArgsNone,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rel, err := f.load(cmd, cli.ReplicationRelationship)
			if err != nil {
				return err
			}
			if err := a.removeReplicationObjects(cmd.Context(), rel, true); err != nil {
				return err
			}
			if err := rel.Remove(); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "replication relationship %q deleted (%s); PVCs are kept\n", rel.Name, rel.Path)
			return nil
		},
	}
}

// optionalString is nil for "", for flags whose empty value means "the cluster's default".
func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// checkPVC fails, saying how to find the right one, when the PVC does not exist on the side.
func checkPVC(ctx context.Context, s *relationshipSide, ns, name, flag string) error {
	var pvc corev1.PersistentVolumeClaim
	err := s.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pvc)
	if apierrors.IsNotFound(err) {
		return cli.Hint(fmt.Errorf("persistentvolumeclaim %s not found", s.where(ns, name)),
			fmt.Sprintf("check --%s; list the PVCs with '%s -n %s get pvc'", flag, s.kubectl(), ns))
	}
	if err != nil {
		return s.explain(err)
	}
	return nil
}

// removeReplicationObjects deletes what rel created on both sides. With strict, the first error
// stops it; otherwise (set-source, set-destination, which replace a side) what cannot be deleted is
// a warning, as in VolSync, where a replaced side may be a cluster that is gone.
func (a *app) removeReplicationObjects(ctx context.Context, rel *cli.Relationship, strict bool) error {
	type part struct {
		context, namespace string
		kinds              []string
	}
	var parts []part
	if src := rel.Replication.Source; src != nil {
		parts = append(parts, part{src.Cluster, src.Namespace, []string{"replicationsource", "secret"}})
	}
	if dst := rel.Replication.Destination; dst != nil {
		parts = append(parts, part{dst.Cluster, dst.Namespace, []string{"replicationdestination"}})
	}
	for _, p := range parts {
		s, err := a.side(p.context)
		if err == nil {
			err = a.deleteRelationshipObjects(ctx, s, rel, p.namespace, p.kinds...)
		}
		if err != nil && strict {
			return err
		}
		if err != nil {
			fmt.Fprintf(a.root.ErrOrStderr(), "warning: the objects relationship %q created in namespace %s were not deleted: %v\n", rel.Name, p.namespace, err)
		}
	}
	return nil
}

// replicationWritten is what applyReplication left at the source.
type replicationWritten struct {
	source *relationshipSide
	rs     *volsyncv1alpha1.ReplicationSource
}

// applyReplication creates or updates the relationship's objects, VolSync's order: the
// destination (and its PVC, for None or Direct), its ssh keys copied to the source, the source
// with the trigger triggerFor returns (it sees the source as it is, when it exists). Every object
// is checked before the first write; when a step fails, what this run created is deleted again.
func (a *app) applyReplication(ctx context.Context, rel *cli.Relationship, timeout time.Duration,
	triggerFor func(rs *volsyncv1alpha1.ReplicationSource, exists bool) volsyncv1alpha1.ReplicationTriggerSpec) (*replicationWritten, error) {
	if timeout < 0 {
		return nil, cli.Hint(fmt.Errorf("--timeout %s is negative", timeout), "pass a duration such as 10m, or 0 to wait as long as it takes")
	}
	src, dst := rel.Replication.Source, rel.Replication.Destination
	if src == nil {
		return nil, cli.Hint(fmt.Errorf("replication %q has no source", rel.Name),
			fmt.Sprintf("set it first with 'volsyncctl replication -r %s set-source --pvcname [context/]namespace/name'", rel.Name))
	}
	if dst == nil {
		return nil, cli.Hint(fmt.Errorf("replication %q has no destination", rel.Name),
			fmt.Sprintf("set it first with 'volsyncctl replication -r %s set-destination --destination [context/]namespace/name'", rel.Name))
	}
	ss, err := a.side(src.Cluster)
	if err != nil {
		return nil, err
	}
	ds, err := a.side(dst.Cluster)
	if err != nil {
		return nil, err
	}

	// Check everything first.
	var srcPVC corev1.PersistentVolumeClaim
	if err := ss.c.Get(ctx, client.ObjectKey{Namespace: src.Namespace, Name: src.PVCName}, &srcPVC); apierrors.IsNotFound(err) {
		return nil, cli.Hint(fmt.Errorf("source persistentvolumeclaim %s not found", ss.where(src.Namespace, src.PVCName)),
			fmt.Sprintf("create it, or set another source with 'volsyncctl replication -r %s set-source --pvcname ...'", rel.Name))
	} else if err != nil {
		return nil, ss.explain(err)
	}
	var ns corev1.Namespace
	if err := ds.c.Get(ctx, client.ObjectKey{Name: dst.Namespace}, &ns); apierrors.IsNotFound(err) {
		return nil, cli.Hint(fmt.Errorf("destination namespace %s not found", dst.Namespace),
			fmt.Sprintf("create it with '%s create namespace %s'", ds.kubectl(), dst.Namespace))
	} else if err != nil {
		return nil, ds.explain(err)
	}
	opts := dst.VolumeOptions
	direct := opts.CopyMethod != volsyncv1alpha1.CopyMethodSnapshot
	// The defaults follow the source PVC, as in VolSync.
	if opts.Capacity == nil {
		if q, ok := srcPVC.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
			opts.Capacity = &q
		}
	}
	if len(opts.AccessModes) == 0 {
		opts.AccessModes = srcPVC.Spec.AccessModes
	}
	destPVC := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: dst.Namespace, Name: dst.RDName}}
	makePVC := false
	if direct {
		err := ds.c.Get(ctx, client.ObjectKeyFromObject(destPVC), destPVC)
		switch {
		case apierrors.IsNotFound(err):
			if opts.Capacity == nil {
				return nil, cli.Hint(fmt.Errorf("source persistentvolumeclaim %s requests no storage size", ss.where(src.Namespace, src.PVCName)),
					fmt.Sprintf("set one with 'volsyncctl replication -r %s set-destination --capacity 10Gi ...'", rel.Name))
			}
			makePVC = true
		case err != nil:
			return nil, ds.explain(err)
		}
	}
	rd := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: metav1.ObjectMeta{Namespace: dst.Namespace, Name: dst.RDName}}
	rdExists, err := lookupOwned(ctx, ds, rel, rd, "replicationdestination")
	if err != nil {
		return nil, err
	}
	keys := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: src.Namespace, Name: src.RSName}}
	keysExist, err := lookupOwned(ctx, ss, rel, keys, "secret")
	if err != nil {
		return nil, err
	}
	rs := &volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Namespace: src.Namespace, Name: src.RSName}}
	rsExists, err := lookupOwned(ctx, ss, rel, rs, "replicationsource")
	if err != nil {
		return nil, err
	}
	trigger := triggerFor(rs, rsExists)

	// Then write, undoing this run's creations when a step fails.
	var undo rollback
	if makePVC {
		destPVC.Spec = corev1.PersistentVolumeClaimSpec{AccessModes: opts.AccessModes, StorageClassName: opts.StorageClassName,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *opts.Capacity}}}
		if err := ds.c.Create(ctx, destPVC); err != nil {
			return nil, ds.explain(err)
		}
		undo.created(ds.c, destPVC)
		fmt.Fprintf(a.out, "persistentvolumeclaim %s created\n", ds.where(destPVC.Namespace, destPVC.Name))
	}
	if direct {
		opts.DestinationPVC = ptr.To(destPVC.Name)
		opts.Capacity, opts.AccessModes = nil, nil
	}
	rdSpec := volsyncv1alpha1.ReplicationDestinationSpec{Rsync: &volsyncv1alpha1.ReplicationDestinationRsyncSpec{
		ReplicationDestinationVolumeOptions: opts, ServiceType: dst.ServiceType}}
	if err := a.writeRelationshipObject(ctx, ds, rel, rd, rdExists, func() { rd.Spec = rdSpec }, "replicationdestination", &undo); err != nil {
		return nil, undo.fail(err)
	}
	st, err := awaitEndpoint(ctx, ds, rd, timeout)
	if err != nil {
		return nil, undo.fail(err)
	}
	fmt.Fprintf(a.out, "replicationdestination %s listens at %s\n", ds.where(rd.Namespace, rd.Name), hostPort(*st.Address, st.Port))
	warnClusterIPAcross(a.root.ErrOrStderr(), ss.host == ds.host, dst.ServiceType, *st.Address,
		"set-destination --servicetype LoadBalancer for a destination in another cluster")

	var published corev1.Secret
	if err := ds.c.Get(ctx, client.ObjectKey{Namespace: rd.Namespace, Name: *st.SSHKeys}, &published); err != nil {
		return nil, undo.fail(ds.explain(err))
	}
	if err := a.writeRelationshipObject(ctx, ss, rel, keys, keysExist, func() { keys.Type, keys.Data = published.Type, published.Data },
		"secret", &undo); err != nil {
		return nil, undo.fail(err)
	}

	rsSpec := volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: src.PVCName, Trigger: &trigger,
		Rsync: &volsyncv1alpha1.ReplicationSourceRsyncSpec{ReplicationSourceVolumeOptions: src.VolumeOptions,
			Address: st.Address, Port: st.Port, SSHKeys: ptr.To(keys.Name)}}
	if err := a.writeRelationshipObject(ctx, ss, rel, rs, rsExists, func() { rs.Spec = rsSpec }, "replicationsource", &undo); err != nil {
		return nil, undo.fail(err)
	}
	src.Trigger = trigger
	if err := rel.Save(); err != nil {
		return nil, err
	}
	return &replicationWritten{source: ss, rs: rs}, nil
}
