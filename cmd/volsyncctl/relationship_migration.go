package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
	"github.com/volsync/volsync/pkg/mover/entrypoint"
	"github.com/volsync/volsync/pkg/mover/rsync"
)

// migrationSSHUser is the login `migration rsync` uses, that of every rsync source.
const migrationSSHUser = "root"

// migrationRelationshipCommand is `migration -r NAME create|rsync|delete`, VolSync's plugin verbs
// that copy a local directory into a PVC.
func (a *app) migrationRelationshipCommand() *cobra.Command {
	group, f := a.relationshipGroup(cli.MigrationRelationship,
		"Copy a local directory into a PVC of a cluster (VolSync's migration verbs, not application migration)",
		`Copy data from a local file system (a disk, an NFS mount, ...) into a Kubernetes PVC, with rsync over
ssh: the "migration" verbs of VolSync's kubectl plugin. create provisions the PVC (or uses an existing
one) and a ReplicationDestination that receives into it; rsync copies a local directory into the PVC,
as often as needed (each run sends only what changed); delete removes the ReplicationDestination and
the relationship file, and keeps the PVC and its data.

This is not application migration: to copy namespaces, their objects and volumes to another
cluster, use 'volsyncctl create migration' (a Migration through a ClusterPair) or a
MigrationSchedule.

The relationship is a file in --config-dir (default ~/.volsync). rsync needs the rsync and ssh
programs on this machine, and network access to the destination: --servicetype LoadBalancer (the
default) from outside the cluster.`,
		`  volsyncctl migration -r mig-example create --pvcname destination/mydata --capacity 2Gi --storageclass standard-csi
  volsyncctl migration -r mig-example rsync --source /tmp/data/
  volsyncctl migration -r mig-example delete`)
	group.AddCommand(a.migrationCreateCommand(f), a.migrationRsyncCommand(f), a.migrationDeleteCommand(f))
	return group
}

func (a *app) migrationCreateCommand(f *relationshipFlags) *cobra.Command {
	var pvcName, capacity, accessMode, storageClass, serviceType, rdName string
	var rsyncTLS bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "create --pvcname [context/]namespace/name [--capacity SIZE]",
		Short: "Prepare a PVC to receive data: the PVC, when needed, and its ReplicationDestination",
		Long: `Create a migration relationship: the PVC named by --pvcname, when it does not exist (then --capacity
is required; its namespace is created when missing), and a ReplicationDestination (--rdname, default
<pvc>-mig-dst) that receives into it with rsync over ssh, then wait until it publishes its address
and ssh keys. An existing PVC is used as it is. When a step fails, what this run created is deleted
again and no relationship is saved.`,
		Example: `  volsyncctl migration -r mig-example create --pvcname destination/mydata --capacity 2Gi --accessmodes ReadWriteOnce
  volsyncctl migration -r mig-example create --pvcname prod/destination/mydata --servicetype ClusterIP`,
		Args: nameArgsNone,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.required(cmd); err != nil {
				return err
			}
			if rsyncTLS {
				return errRsyncTLS()
			}
			if pvcName == "" {
				return cli.Hint(errors.New("--pvcname is not set"), "name the PVC to copy into, such as --pvcname destination/mydata")
			}
			addr, err := cli.ParseObjectAddress("pvcname", pvcName)
			if err != nil {
				return err
			}
			size, err := cli.ParseCapacity("capacity", capacity)
			if err != nil {
				return err
			}
			modes, err := cli.ParseAccessModes("accessmodes", []string{accessMode})
			if err != nil {
				return err
			}
			svc, err := cli.ParseServiceType("servicetype", serviceType)
			if err != nil {
				return err
			}
			if timeout < 0 {
				return cli.Hint(fmt.Errorf("--timeout %s is negative", timeout), "pass a duration such as 10m, or 0 to wait as long as it takes")
			}
			if rdName == "" {
				rdName = addr.Name + "-mig-dst"
			}
			rel, err := cli.NewRelationship(f.dir, f.name, cli.MigrationRelationship)
			if err != nil {
				return err
			}
			rel.Migration.Destination = &cli.MigrationDestinationSide{Cluster: addr.Context, Namespace: addr.Namespace, PVCName: addr.Name,
				RDName: rdName, ServiceType: &svc, CopyMethod: volsyncv1alpha1.CopyMethodDirect}
			return a.createMigrationDestination(cmd.Context(), rel, size, modes, optionalString(storageClass), timeout)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&pvcName, "pvcname", "", "PVC to create or use: [context/]namespace/name (required)")
	fs.StringVar(&capacity, "capacity", "", "size of the PVC to create (e.g. 10Gi); required when it does not exist")
	fs.StringVar(&accessMode, "accessmodes", string(corev1.ReadWriteOnce), "access mode of the PVC to create: ReadWriteOnce, ReadOnlyMany, ReadWriteMany or ReadWriteOncePod")
	fs.StringVar(&storageClass, "storageclass", "", "StorageClass of the PVC to create")
	fs.StringVar(&serviceType, "servicetype", string(corev1.ServiceTypeLoadBalancer), "Service the destination listens on: LoadBalancer or ClusterIP")
	fs.StringVar(&rdName, "rdname", "", "name of the ReplicationDestination; default <pvc>-mig-dst")
	fs.BoolVar(&rsyncTLS, "rsynctls", false, "use the rsync-tls mover (not supported: volsyncctl relationships use rsync over ssh)")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "give up waiting for the destination's address after this long (0: no limit)")
	return cmd
}

// createMigrationDestination is migration create once the flags are read: check, create, wait,
// save; a failure deletes what it created.
func (a *app) createMigrationDestination(ctx context.Context, rel *cli.Relationship, size *resource.Quantity,
	modes []corev1.PersistentVolumeAccessMode, storageClass *string, timeout time.Duration) error {
	d := rel.Migration.Destination
	s, err := a.side(d.Cluster)
	if err != nil {
		return err
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: d.PVCName}}
	pvcExists := true
	if err := s.c.Get(ctx, client.ObjectKeyFromObject(pvc), pvc); apierrors.IsNotFound(err) {
		pvcExists = false
		if size == nil {
			return cli.Hint(fmt.Errorf("persistentvolumeclaim %s not found, and --capacity is not set", s.where(d.Namespace, d.PVCName)),
				"pass --capacity, such as 10Gi, to have it created, or name an existing PVC")
		}
	} else if err != nil {
		return s.explain(err)
	}
	var ns corev1.Namespace
	nsExists := true
	if err := s.c.Get(ctx, client.ObjectKey{Name: d.Namespace}, &ns); apierrors.IsNotFound(err) {
		nsExists = false
	} else if err != nil {
		return s.explain(err)
	}
	rd := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: d.RDName}}
	if exists, err := lookupOwned(ctx, s, rel, rd, "replicationdestination"); err != nil {
		return err
	} else if exists {
		return fmt.Errorf("replicationdestination %s already belongs to relationship %q", s.where(d.Namespace, d.RDName), rel.Name)
	}

	var undo rollback
	if !nsExists {
		ns = corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: d.Namespace}}
		if err := s.c.Create(ctx, &ns); err != nil {
			return s.explain(err)
		}
		undo.created(s.c, &ns)
		fmt.Fprintf(a.out, "namespace %s created\n", d.Namespace)
	}
	if !pvcExists {
		pvc.Spec = corev1.PersistentVolumeClaimSpec{AccessModes: modes, StorageClassName: storageClass,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *size}}}
		if err := s.c.Create(ctx, pvc); err != nil {
			return undo.fail(s.explain(err))
		}
		undo.created(s.c, pvc)
		fmt.Fprintf(a.out, "persistentvolumeclaim %s created\n", s.where(pvc.Namespace, pvc.Name))
	} else {
		fmt.Fprintf(a.out, "persistentvolumeclaim %s exists: the data goes into it\n", s.where(pvc.Namespace, pvc.Name))
	}
	spec := volsyncv1alpha1.ReplicationDestinationSpec{Rsync: &volsyncv1alpha1.ReplicationDestinationRsyncSpec{
		ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{CopyMethod: d.CopyMethod, DestinationPVC: ptr.To(d.PVCName)},
		ServiceType:                         d.ServiceType}}
	if err := a.writeRelationshipObject(ctx, s, rel, rd, false, func() { rd.Spec = spec }, "replicationdestination", &undo); err != nil {
		return undo.fail(err)
	}
	st, err := awaitEndpoint(ctx, s, rd, timeout)
	if err != nil {
		return undo.fail(err)
	}
	if err := rel.Save(); err != nil {
		return undo.fail(err)
	}
	fmt.Fprintf(a.out, "replicationdestination %s listens at %s\n", s.where(rd.Namespace, rd.Name), hostPort(*st.Address, st.Port))
	fmt.Fprintf(a.out, "migration relationship %q created (%s): copy a directory into the PVC with 'volsyncctl migration -r %s rsync --source DIR'\n",
		rel.Name, rel.Path, rel.Name)
	return nil
}

func (a *app) migrationRsyncCommand(f *relationshipFlags) *cobra.Command {
	var source string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "rsync --source DIR",
		Short: "Copy a local directory into the PVC, with the local rsync and ssh",
		Long: `Copy the contents of the local directory DIR into the relationship's PVC: the local rsync, over the
local ssh with the destination's keys, sends DIR into the ReplicationDestination's staging area,
then the destination commits it. Afterwards the PVC holds exactly what DIR holds (as 'rsync -a
--delete DIR/' would leave it); until the commit it keeps its previous contents, so an interrupted
run changes nothing. Run it again to send what changed since. Ownership is kept only when the
destination runs privileged.`,
		Example: `  volsyncctl migration -r mig-example rsync --source /tmp/data/`,
		Args:    nameArgsNone,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if source == "" {
				return cli.Hint(errors.New("--source is not set"), "name the local directory to copy, such as --source /mnt/data/")
			}
			if fi, err := os.Stat(source); err != nil {
				return cli.Hint(fmt.Errorf("--source %s: %w", source, err), "name a local directory")
			} else if !fi.IsDir() {
				return cli.Hint(fmt.Errorf("--source %s is not a directory", source), "name a local directory: its contents are copied")
			}
			if timeout <= 0 {
				return cli.Hint(fmt.Errorf("--timeout %s is not positive", timeout), "pass a duration such as 5m")
			}
			rel, err := f.load(cmd, cli.MigrationRelationship)
			if err != nil {
				return err
			}
			return a.rsyncIntoMigration(cmd.Context(), rel, source, timeout)
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "local directory whose contents are copied into the PVC (required)")
	cmd.Flags().DurationVar(&timeout, "timeout", rsync.DefaultConnectTimeout, "how long to wait for the destination to answer, and to retry a broken transfer")
	return cmd
}

// rsyncIntoMigration is migration rsync once the flags are read.
func (a *app) rsyncIntoMigration(ctx context.Context, rel *cli.Relationship, source string, timeout time.Duration) error {
	d := rel.Migration.Destination
	if d == nil {
		return cli.Hint(fmt.Errorf("migration %q has no destination", rel.Name), "delete it and create it again with 'volsyncctl migration -r NAME create --pvcname ...'")
	}
	s, err := a.side(d.Cluster)
	if err != nil {
		return err
	}
	rd := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: d.RDName}}
	if exists, err := lookupOwned(ctx, s, rel, rd, "replicationdestination"); err != nil {
		return err
	} else if !exists {
		return cli.Hint(fmt.Errorf("replicationdestination %s of migration %q not found", s.where(d.Namespace, d.RDName), rel.Name),
			fmt.Sprintf("delete the relationship with 'volsyncctl migration -r %s delete' and create it again", rel.Name))
	}
	st, err := awaitEndpoint(ctx, s, rd, timeout)
	if err != nil {
		return err
	}
	var keys corev1.Secret
	if err := s.c.Get(ctx, client.ObjectKey{Namespace: d.Namespace, Name: *st.SSHKeys}, &keys); err != nil {
		return s.explain(err)
	}
	dir, err := os.MkdirTemp("", "volsyncctl-keys-")
	if err != nil {
		return err
	}
	// The private key lives only as long as the run.
	defer os.RemoveAll(dir)
	for _, name := range []string{"source", "destination.pub"} {
		if len(keys.Data[name]) == 0 {
			return fmt.Errorf("secret %s has no %s key: it is not the ssh keys of an rsync destination", s.where(keys.Namespace, keys.Name), name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), keys.Data[name], 0o600); err != nil {
			return err
		}
	}
	port := int(ptr.Deref(st.Port, rsync.DefaultDestinationPort))
	fmt.Fprintf(a.out, "copying %s into persistentvolumeclaim %s through %s\n", source, s.where(d.Namespace, d.PVCName), hostPort(*st.Address, st.Port))
	log := entrypoint.NewLogger(a.out, "rsync")
	sum, err := rsync.Push(ctx, log, rsync.PushRequest{From: source, Address: *st.Address, Port: port, Login: migrationSSHUser,
		KeysDir: dir, ConnectTimeout: timeout})
	if err != nil {
		return cli.Hint(fmt.Errorf("copying %s into persistentvolumeclaim %s: %w", source, s.where(d.Namespace, d.PVCName), err),
			fmt.Sprintf("the PVC keeps its previous contents; see '%s -n %s describe replicationdestination %s', then run rsync again", s.kubectl(), d.Namespace, d.RDName))
	}
	fmt.Fprintf(a.out, "persistentvolumeclaim %s now holds %s: %s\n", s.where(d.Namespace, d.PVCName), source, sum.Message)
	return nil
}

func (a *app) migrationDeleteCommand(f *relationshipFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete",
		Short: "Delete the ReplicationDestination and the relationship file; the PVC and its data stay",
		Long: `Delete the ReplicationDestination the relationship created, then its file. The PVC is never deleted:
it keeps the data copied into it, for the application to use.`,
		Args: nameArgsNone,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rel, err := f.load(cmd, cli.MigrationRelationship)
			if err != nil {
				return err
			}
			if d := rel.Migration.Destination; d != nil {
				s, err := a.side(d.Cluster)
				if err != nil {
					return err
				}
				if err := a.deleteRelationshipObjects(cmd.Context(), s, rel, d.Namespace, "replicationdestination"); err != nil {
					return err
				}
				defer fmt.Fprintf(a.out, "persistentvolumeclaim %s is kept\n", s.where(d.Namespace, d.PVCName))
			}
			if err := rel.Remove(); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "migration relationship %q deleted (%s)\n", rel.Name, rel.Path)
			return nil
		},
	}
}
