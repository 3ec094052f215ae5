package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
	"github.com/volsync/volsync/pkg/mover"
)

// seedAnnotation marks every object the replication workflow (start-replication and
// set-replication) creates, with "<source-namespace>/<source-name>" of its ReplicationSource.
// Only objects that carry it with that value are updated or removed by the workflow; an object of
// the same name without it is someone else's, and the workflow stops before changing anything.
const seedAnnotation = "volsync.backube/seed-replication"

// seedPVCTimeFormat is the date-time stamp of the PVCs set-replication makes from the latest
// snapshot: <source-pvc>-<stamp>, from the time the destination finished that sync, in UTC.
const seedPVCTimeFormat = "20060102150405"

// seedPollInterval is how often the workflow reads the objects it waits for.
var seedPollInterval = 2 * time.Second

const seedConfigHelp = `Options come from a config file of key: value lines: --config PATH, else ./config.yaml, else
~/.volsyncconfig/config.yaml (~/.scribeconfig/config.yaml, the Scribe plugin's place, is read
last). Every key is also a flag of the same name, and a flag wins over the file. Each side has
its kubeconfig context (source-kube-context, dest-kube-context), so the two may be two clusters.

Names: the ReplicationSource is <source-namespace>-source (source-name), the ReplicationDestination
<dest-namespace>-destination (dest-name), and the ssh keys Secret keeps, in source-namespace, the
name the destination publishes (ssh-keys-secret).`

const seedConfigExample = `  cat config.yaml
  dest-access-mode: ReadWriteOnce
  dest-copy-method: Snapshot
  dest-namespace: dest
  source-namespace: source
  source-pvc: mysql-pv-claim
  source-copy-method: Snapshot
`

// seedRun is one run of a workflow command: its options, both sides and their clients.
type seedRun struct {
	a                *app
	cfg              *cli.SeedReplication
	src, dst         *cli.SeedSide
	sc, dc           client.Client
	srcName, dstName string
	// owner is the value of seedAnnotation on what this replication made.
	owner   string
	timeout time.Duration
}

// seedCommand builds one workflow command with the config flags.
func (a *app) seedCommand(use, short, long, example string, withTimeout bool, run func(context.Context, *seedRun) error) *cobra.Command {
	var (
		config  string
		timeout time.Duration
	)
	values := map[string]*string{}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Long:    long + "\n\n" + seedConfigHelp,
		Example: example,
		Args:    nameArgsNone,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout < 0 {
				return cli.Hint(fmt.Errorf("--timeout %s is negative", timeout), "pass a duration such as 10m, or 0 to wait as long as it takes")
			}
			r, err := a.loadSeedRun(cmd, config, values)
			if err != nil {
				return err
			}
			r.timeout = timeout
			return run(cmd.Context(), r)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&config, "config", "", "options file; default ./config.yaml, then ~/.volsyncconfig/config.yaml")
	for _, k := range cli.SeedKeys {
		values[k.Name] = fs.String(k.Name, "", k.Usage)
	}
	if withTimeout {
		fs.DurationVar(&timeout, "timeout", 10*time.Minute, "give up waiting after this long (0: no limit)")
	}
	return cmd
}

// nameArgsNone refuses arguments: every option is a key of the config file or a flag.
func nameArgsNone(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return cli.Hint(fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args),
			"put the options in config.yaml or pass them as flags, such as --source-pvc")
	}
	return nil
}

func (a *app) loadSeedRun(cmd *cobra.Command, config string, flags map[string]*string) (*seedRun, error) {
	values, path, err := cli.ReadSeedConfig(config)
	if err != nil {
		return nil, err
	}
	fromFlag := map[string]bool{}
	for name, v := range flags {
		if cmd.Flags().Changed(name) {
			values[name] = *v
			fromFlag[name] = true
		}
	}
	cfg, err := cli.NewSeedReplication(values, path, fromFlag)
	if err != nil {
		return nil, err
	}
	r := &seedRun{a: a, cfg: cfg}
	if r.src, err = a.opts.ResolveSeedSide("source", cfg.SourceContext, cfg.SourceCluster); err != nil {
		return nil, err
	}
	if r.dst, err = a.opts.ResolveSeedSide("dest", cfg.DestContext, cfg.DestCluster); err != nil {
		return nil, err
	}
	if cfg.SourceNamespace == "" {
		cfg.SourceNamespace = r.src.Namespace
	}
	if cfg.DestNamespace == "" {
		cfg.DestNamespace = r.dst.Namespace
	}
	r.srcName, r.dstName = cfg.SourceName, cfg.DestName
	if r.srcName == "" {
		r.srcName = cfg.SourceNamespace + "-source"
	}
	if r.dstName == "" {
		r.dstName = cfg.DestNamespace + "-destination"
	}
	r.owner = cfg.SourceNamespace + "/" + r.srcName
	if r.sc, err = r.src.Options.Client(); err != nil {
		return nil, err
	}
	if r.dc, err = r.dst.Options.Client(); err != nil {
		return nil, err
	}
	return r, nil
}

// sameCluster says whether both sides reach the same API server.
func (r *seedRun) sameCluster() bool { return r.src.Server == r.dst.Server }

// where is "namespace/name (context C)", for messages.
func (r *seedRun) where(side *cli.SeedSide, ns, name string) string {
	return fmt.Sprintf("%s/%s (context %s)", ns, name, side.Context)
}

// explain makes an API error of one side a message that says how to fix it.
func (r *seedRun) explain(side *cli.SeedSide, err error) error {
	return cli.Explain(err, side.Server)
}

// ownerMark is seedAnnotation with this replication's value.
func (r *seedRun) ownerMark() ownerMark { return ownerMark{key: seedAnnotation, value: r.owner} }

// ours says whether obj was made by this replication.
func (r *seedRun) ours(obj client.Object) bool { return r.ownerMark().owns(obj) }

// mark sets seedAnnotation on obj.
func (r *seedRun) mark(obj client.Object) { r.ownerMark().set(obj) }

// lookup reads obj, named in it, on one side. It reports whether it exists; an existing object
// that this replication did not make is an error that says what to do, unless mayBeOthers.
func (r *seedRun) lookup(ctx context.Context, side *cli.SeedSide, c client.Client, obj client.Object, kind, nameKey string) (bool, error) {
	err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, r.explain(side, err)
	case r.ours(obj):
		return true, nil
	}
	whose := "was not made by this replication workflow"
	if other := obj.GetAnnotations()[seedAnnotation]; other != "" {
		whose = fmt.Sprintf("belongs to the replication of %s", other)
	}
	return true, cli.Hint(fmt.Errorf("%s %s already exists and %s", kind, r.where(side, obj.GetNamespace(), obj.GetName()), whose),
		fmt.Sprintf("set %s to another name, or delete it with 'kubectl --context %s -n %s delete %s %s'", nameKey, side.Context, obj.GetNamespace(), kind, obj.GetName()))
}

// ourSource and ourDestination read the replication's two objects, which must exist and be ours.
func (r *seedRun) ourSource(ctx context.Context) (*volsyncv1alpha1.ReplicationSource, error) {
	rs := &volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Namespace: r.cfg.SourceNamespace, Name: r.srcName}}
	found, err := r.lookup(ctx, r.src, r.sc, rs, "replicationsource", "source-name")
	if err == nil && !found {
		err = cli.Hint(fmt.Errorf("replicationsource %s does not exist", r.where(r.src, rs.Namespace, rs.Name)),
			"start the replication first with 'volsyncctl start-replication', or check source-namespace and source-kube-context")
	}
	return rs, err
}

func (r *seedRun) ourDestination(ctx context.Context) (*volsyncv1alpha1.ReplicationDestination, error) {
	rd := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: metav1.ObjectMeta{Namespace: r.cfg.DestNamespace, Name: r.dstName}}
	found, err := r.lookup(ctx, r.dst, r.dc, rd, "replicationdestination", "dest-name")
	if err == nil && !found {
		err = cli.Hint(fmt.Errorf("replicationdestination %s does not exist", r.where(r.dst, rd.Namespace, rd.Name)),
			"start the replication first with 'volsyncctl start-replication', or check dest-namespace and dest-kube-context")
	}
	return rd, err
}

func (a *app) startReplicationCommand() *cobra.Command {
	return a.seedCommand("start-replication [--config FILE] [--KEY VALUE ...]",
		"Start replicating a PVC with rsync: destination, ssh keys, source",
		`Start replicating source-pvc to dest-namespace with the rsync mover, in four steps:
  - create the destination PVC (when dest-pvc is not given and dest-copy-method is None),
  - create the ReplicationDestination and wait until it publishes its address and ssh keys,
  - copy the ssh keys Secret from the destination to source-namespace,
  - create the ReplicationSource, which syncs on source-cron-spec (default "*/3 * * * *").
Everything is checked before anything is written; if a step fails, what this run created is
removed again. Run it again to apply a changed config.`,
		seedConfigExample+"  volsyncctl start-replication\n  volsyncctl start-replication --config dr.yaml --dest-kube-context destuser",
		true, func(ctx context.Context, r *seedRun) error { return r.start(ctx) })
}

func (a *app) setReplicationCommand() *cobra.Command {
	return a.seedCommand("set-replication [--config FILE] [--KEY VALUE ...]",
		"Sync once more and hold: the destination gets a point-in-time PVC",
		`Pin a point-in-time image of source-pvc at the destination:
  - set a manual trigger on the ReplicationSource (its schedule stops while it is set),
  - wait for that final sync to finish,
  - when dest-copy-method is Snapshot and dest-pvc is not given, create in dest-namespace a PVC
    from the destination's latest snapshot, named <source-pvc>-<date-time> (UTC, 20060102150405).
Scale the source application down first for a consistent copy. continue-replication resumes the
schedule.`,
		"  kubectl scale deployment/mysql --replicas=0 -n source\n  volsyncctl set-replication",
		true, func(ctx context.Context, r *seedRun) error { return r.set(ctx) })
}

func (a *app) continueReplicationCommand() *cobra.Command {
	return a.seedCommand("continue-replication [--config FILE] [--KEY VALUE ...]",
		"Resume periodic syncs after set-replication",
		`Remove the manual trigger that set-replication put on the ReplicationSource, so that its schedule
(or, without one, continuous syncing) resumes.`,
		"  volsyncctl continue-replication\n  volsyncctl set-replication   # pin a new image later",
		false, func(ctx context.Context, r *seedRun) error { return r.resume(ctx) })
}

func (a *app) removeReplicationCommand() *cobra.Command {
	return a.seedCommand("remove-replication [--config FILE] [--KEY VALUE ...]",
		"Remove the source, the copied ssh keys and the destination; PVCs stay",
		`Remove the ReplicationSource, the ssh keys Secret copied into source-namespace and the
ReplicationDestination. PVCs are never deleted: the source PVC and every destination PVC, dated
ones included, stay; prune stale ones yourself. Objects of those names that this workflow did not
create are left alone and stop the command before it deletes anything.`,
		"  volsyncctl remove-replication",
		false, func(ctx context.Context, r *seedRun) error { return r.remove(ctx) })
}

func isDirect(m volsyncv1alpha1.CopyMethodType) bool {
	return m == volsyncv1alpha1.CopyMethodNone || m == volsyncv1alpha1.CopyMethodDirect
}

// start is start-replication: check everything, then create, undoing this run's creations when a
// later step fails.
func (r *seedRun) start(ctx context.Context) error {
	cfg := r.cfg
	if err := cfg.Required("source-pvc", "source-copy-method", "dest-copy-method"); err != nil {
		return err
	}
	if cfg.DestPVC == "" {
		if err := cfg.Required("dest-access-mode"); err != nil {
			return err
		}
	}
	srcNS, dstNS := cfg.SourceNamespace, cfg.DestNamespace
	var srcPVC corev1.PersistentVolumeClaim
	if err := r.sc.Get(ctx, client.ObjectKey{Namespace: srcNS, Name: cfg.SourcePVC}, &srcPVC); err != nil {
		if apierrors.IsNotFound(err) {
			return cli.Hint(fmt.Errorf("source-pvc %q not found in namespace %q of context %s", cfg.SourcePVC, srcNS, r.src.Context),
				fmt.Sprintf("check source-pvc and source-namespace; list the PVCs with 'kubectl --context %s -n %s get pvc'", r.src.Context, srcNS))
		}
		return r.explain(r.src, err)
	}
	capacity := cfg.DestCapacity
	if capacity == nil {
		if q, ok := srcPVC.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
			capacity = &q
		} else {
			return cli.Hint(fmt.Errorf("source-pvc %q requests no storage size", cfg.SourcePVC), "set dest-capacity, such as 2Gi")
		}
	}
	var ns corev1.Namespace
	nsMissing := false
	if err := r.dc.Get(ctx, client.ObjectKey{Name: dstNS}, &ns); apierrors.IsNotFound(err) {
		nsMissing = true
	} else if err != nil {
		return r.explain(r.dst, err)
	}
	if cfg.DestPVC != "" {
		var pvc corev1.PersistentVolumeClaim
		err := r.dc.Get(ctx, client.ObjectKey{Namespace: dstNS, Name: cfg.DestPVC}, &pvc)
		if apierrors.IsNotFound(err) || nsMissing {
			return cli.Hint(fmt.Errorf("dest-pvc %q not found in namespace %q of context %s", cfg.DestPVC, dstNS, r.dst.Context),
				"create it first, or drop dest-pvc to have one provisioned")
		} else if err != nil {
			return r.explain(r.dst, err)
		}
	}
	// With None the destination writes into a PVC of the source PVC's name that this command makes.
	makePVC := cfg.DestPVC == "" && isDirect(cfg.DestCopyMethod)
	destPVC := cfg.DestPVC
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: dstNS, Name: cfg.SourcePVC}}
	pvcExists := false
	if makePVC {
		destPVC = cfg.SourcePVC
		var err error
		if pvcExists, err = r.lookup(ctx, r.dst, r.dc, pvc, "persistentvolumeclaim", "dest-pvc"); err != nil {
			return err
		}
	}
	rd := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: metav1.ObjectMeta{Namespace: dstNS, Name: r.dstName}}
	rdExists, err := r.lookup(ctx, r.dst, r.dc, rd, "replicationdestination", "dest-name")
	if err != nil {
		return err
	}
	rs := &volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Namespace: srcNS, Name: r.srcName}}
	rsExists, err := r.lookup(ctx, r.src, r.sc, rs, "replicationsource", "source-name")
	if err != nil {
		return err
	}
	// The copy keeps ssh-keys-secret, else the name the rsync mover gives the Secret it publishes.
	copyName := cfg.SSHKeysSecret
	if copyName == "" {
		copyName = mover.ObjectName("rsync-dst-src", r.dstName)
	}
	if !(r.sameCluster() && srcNS == dstNS && cfg.SSHKeysSecret == "") {
		if _, err := r.lookup(ctx, r.src, r.sc, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: srcNS, Name: copyName}}, "secret", "ssh-keys-secret"); err != nil {
			return err
		}
	}

	var undo rollback
	fail, created := undo.fail, undo.created
	out := r.a.out
	if nsMissing {
		ns = corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: dstNS}}
		if err := r.dc.Create(ctx, &ns); err != nil {
			return r.explain(r.dst, err)
		}
		created(r.dc, &ns)
		fmt.Fprintf(out, "namespace %s created (context %s)\n", dstNS, r.dst.Context)
	}
	if makePVC && !pvcExists {
		pvc.Spec = corev1.PersistentVolumeClaimSpec{AccessModes: cfg.DestAccessModes, StorageClassName: cfg.DestStorageClass,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *capacity}}}
		r.mark(pvc)
		if err := r.dc.Create(ctx, pvc); err != nil {
			return fail(r.explain(r.dst, err))
		}
		created(r.dc, pvc)
		fmt.Fprintf(out, "persistentvolumeclaim %s created\n", r.where(r.dst, dstNS, pvc.Name))
	}

	opts := volsyncv1alpha1.ReplicationDestinationVolumeOptions{CopyMethod: cfg.DestCopyMethod, AccessModes: cfg.DestAccessModes,
		StorageClassName: cfg.DestStorageClass, VolumeSnapshotClassName: cfg.DestSnapshotClass}
	if destPVC != "" {
		opts.DestinationPVC = ptr.To(destPVC)
	} else {
		opts.Capacity = capacity
	}
	rdSpec := volsyncv1alpha1.ReplicationDestinationSpec{Rsync: &volsyncv1alpha1.ReplicationDestinationRsyncSpec{
		ReplicationDestinationVolumeOptions: opts, ServiceType: cfg.DestServiceType}}
	if cfg.DestCronSpec != "" {
		rdSpec.Trigger = &volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To(cfg.DestCronSpec)}
	}
	if err := r.apply(ctx, r.dst, r.dc, rd, rdExists, func() { rd.Spec = rdSpec }, "replicationdestination", created); err != nil {
		return fail(err)
	}

	// The destination publishes where it listens and which Secret the source needs.
	st, err := awaitRsyncEndpoint(ctx, r.dc, rd, seedPollInterval, r.timeout, cfg.DestAddress != "")
	if errors.Is(err, errNotFinished) {
		return fail(cli.Hint(fmt.Errorf("replicationdestination %s published no address and ssh keys within %s", r.where(r.dst, dstNS, rd.Name), r.timeout),
			fmt.Sprintf("check that volsyncd runs there and see 'kubectl --context %s -n %s describe replicationdestination %s'; with a LoadBalancer that gets no address, set dest-address", r.dst.Context, dstNS, rd.Name)))
	} else if err != nil {
		return fail(r.explain(r.dst, err))
	}
	address := cfg.DestAddress
	if address == "" {
		address = *st.Address
	}
	port := cfg.DestPort
	if port == nil {
		port = st.Port
	}
	fmt.Fprintf(out, "replicationdestination %s listens at %s\n", r.where(r.dst, dstNS, rd.Name), hostPort(address, port))
	warnClusterIPAcross(r.a.root.ErrOrStderr(), r.sameCluster() || cfg.DestAddress != "", cfg.DestServiceType, address,
		"set dest-service-type: LoadBalancer or dest-address")

	// Copy the ssh keys Secret to the source, unless it is the very same Secret.
	published := *st.SSHKeys
	keysName := cfg.SSHKeysSecret
	if keysName == "" {
		keysName = published
	}
	if r.sameCluster() && srcNS == dstNS && keysName == published {
		fmt.Fprintf(out, "secret %s is already in the source namespace\n", r.where(r.src, srcNS, keysName))
	} else {
		var keys corev1.Secret
		if err := r.dc.Get(ctx, client.ObjectKey{Namespace: dstNS, Name: published}, &keys); err != nil {
			return fail(r.explain(r.dst, err))
		}
		cp := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: srcNS, Name: keysName}}
		exists, err := r.lookup(ctx, r.src, r.sc, cp, "secret", "ssh-keys-secret")
		if err != nil {
			return fail(err)
		}
		if err := r.apply(ctx, r.src, r.sc, cp, exists, func() { cp.Type, cp.Data = keys.Type, keys.Data }, "secret", created); err != nil {
			return fail(err)
		}
		fmt.Fprintf(out, "secret %s holds the ssh keys of %s\n", r.where(r.src, srcNS, keysName), r.where(r.dst, dstNS, published))
	}

	rsSpec := volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: cfg.SourcePVC,
		Rsync: &volsyncv1alpha1.ReplicationSourceRsyncSpec{
			ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{CopyMethod: cfg.SourceCopyMethod,
				Capacity: cfg.SourceCapacity, StorageClassName: cfg.SourceStorageClass, AccessModes: cfg.SourceAccessModes,
				VolumeSnapshotClassName: cfg.SourceSnapshotClass},
			SSHKeys: ptr.To(keysName), ServiceType: cfg.SourceServiceType, Address: ptr.To(address), Port: port,
			Path: cfg.DestPath, SSHUser: cfg.DestSSHUser,
		}}
	if cfg.SourceCronSpec != "" {
		rsSpec.Trigger = &volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To(cfg.SourceCronSpec)}
	}
	if err := r.apply(ctx, r.src, r.sc, rs, rsExists, func() {
		// A rerun keeps a manual trigger that set-replication set: only continue-replication removes it.
		manual := ""
		if rs.Spec.Trigger != nil {
			manual = rs.Spec.Trigger.Manual
		}
		rs.Spec = rsSpec
		if manual != "" {
			if rs.Spec.Trigger == nil {
				rs.Spec.Trigger = &volsyncv1alpha1.ReplicationTriggerSpec{}
			}
			rs.Spec.Trigger.Manual = manual
		}
	}, "replicationsource", created); err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "replication of %s started: %s\n", r.where(r.src, srcNS, cfg.SourcePVC), resumes(rsSpec.Trigger))
	return nil
}

// apply creates obj after set fills it in, or updates it when it exists (it was read into obj).
func (r *seedRun) apply(ctx context.Context, side *cli.SeedSide, c client.Client, obj client.Object, exists bool, set func(),
	kind string, created func(client.Client, client.Object)) error {
	verb, err := writeOwned(ctx, c, obj, exists, set, r.ownerMark(), created)
	if err != nil {
		return r.explain(side, err)
	}
	fmt.Fprintf(r.a.out, "%s %s %s\n", kind, r.where(side, obj.GetNamespace(), obj.GetName()), verb)
	return nil
}

func hostPort(address string, port *int32) string {
	if port == nil {
		return address
	}
	return fmt.Sprintf("%s:%d", address, *port)
}

// set is set-replication.
func (r *seedRun) set(ctx context.Context) error {
	rs, err := r.ourSource(ctx)
	if err != nil {
		return err
	}
	rd, err := r.ourDestination(ctx)
	if err != nil {
		return err
	}
	if rs.Spec.Paused {
		return cli.Hint(fmt.Errorf("replicationsource %s is paused: a manual trigger would not run", r.where(r.src, rs.Namespace, rs.Name)),
			fmt.Sprintf("clear spec.paused first: kubectl --context %s -n %s patch replicationsource %s --type merge -p '{\"spec\":{\"paused\":false}}'", r.src.Context, rs.Namespace, rs.Name))
	}
	var imageBefore string
	if rd.Status.LatestImage != nil {
		imageBefore = rd.Status.LatestImage.Name
	}
	value := manualValue(time.Now(), rs.Spec.Trigger, rs.Status.LastManualSync)
	failuresBefore := rs.Status.ConsecutiveFailures
	patch := fmt.Appendf(nil, `{"spec":{"trigger":{"manual":%q}}}`, value)
	if err := r.sc.Patch(ctx, rs, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return r.explain(r.src, err)
	}
	out := r.a.out
	fmt.Fprintf(out, "replicationsource %s: manual trigger set (spec.trigger.manual: %s); waiting for the final sync\n", r.where(r.src, rs.Namespace, rs.Name), value)
	got, err := r.a.awaitManualSync(ctx, r.sc, replicatedSource, client.ObjectKeyFromObject(rs), value, failuresBefore, r.timeout)
	if err != nil {
		return err
	}
	synced := got.(*volsyncv1alpha1.ReplicationSource)
	fmt.Fprintf(out, "replicationsource %s: final sync done\n", r.where(r.src, rs.Namespace, rs.Name))
	spec := rd.Spec.Rsync
	if spec == nil || spec.CopyMethod != volsyncv1alpha1.CopyMethodSnapshot || ptr.Deref(spec.DestinationPVC, "") != "" {
		where := "the destination volume"
		if spec != nil && ptr.Deref(spec.DestinationPVC, "") != "" {
			where = "persistentvolumeclaim " + r.where(r.dst, rd.Namespace, *spec.DestinationPVC)
		}
		fmt.Fprintf(out, "%s holds the synced data; syncs stay stopped until continue-replication\n", where)
		return nil
	}

	// The destination's image of this sync: a new one, taken after the source started the sync,
	// and ready.
	started := synced.Status.LastSyncStartTime
	var snap snapv1.VolumeSnapshot
	err = pollEvery(ctx, seedPollInterval, r.timeout, func(ctx context.Context) (bool, error) {
		if err := r.dc.Get(ctx, client.ObjectKeyFromObject(rd), rd); err != nil {
			return false, err
		}
		img, last := rd.Status.LatestImage, rd.Status.LastSyncTime
		if img == nil || img.Kind != "VolumeSnapshot" || img.Name == imageBefore || last == nil || (started != nil && last.Before(started)) {
			return false, nil
		}
		if err := r.dc.Get(ctx, client.ObjectKey{Namespace: rd.Namespace, Name: img.Name}, &snap); err != nil {
			return false, err
		}
		return snap.Status != nil && ptr.Deref(snap.Status.ReadyToUse, false), nil
	})
	if errors.Is(err, errNotFinished) {
		return cli.Hint(fmt.Errorf("replicationdestination %s published no snapshot of the final sync within %s", r.where(r.dst, rd.Namespace, rd.Name), r.timeout),
			fmt.Sprintf("see 'kubectl --context %s -n %s describe replicationdestination %s', then run set-replication again", r.dst.Context, rd.Namespace, rd.Name))
	} else if err != nil {
		return r.explain(r.dst, err)
	}
	size := spec.Capacity
	if snap.Status.RestoreSize != nil && snap.Status.RestoreSize.Sign() > 0 {
		size = snap.Status.RestoreSize
	}
	if size == nil {
		size = r.cfg.DestCapacity
	}
	if size == nil {
		return cli.Hint(fmt.Errorf("volumesnapshot %s has no restore size", r.where(r.dst, rd.Namespace, snap.Name)), "set dest-capacity")
	}
	modes := spec.AccessModes
	if len(modes) == 0 {
		modes = r.cfg.DestAccessModes
	}
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	from := &corev1.TypedLocalObjectReference{APIGroup: ptr.To(snapv1.GroupName), Kind: "VolumeSnapshot", Name: snap.Name}
	// <source-pvc>-<date-time>; two images of the same second get -1, -2, ... after the stamp.
	base := synced.Spec.SourcePVC + "-" + rd.Status.LastSyncTime.UTC().Format(seedPVCTimeFormat)
	var pvc *corev1.PersistentVolumeClaim
	for i := 0; pvc == nil; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		candidate := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: rd.Namespace, Name: name}}
		exists, err := r.lookup(ctx, r.dst, r.dc, candidate, "persistentvolumeclaim", "dest-pvc")
		switch {
		case err != nil:
			return err
		case !exists:
			pvc = candidate
		case candidate.Spec.DataSource != nil && candidate.Spec.DataSource.Name == snap.Name:
			fmt.Fprintf(out, "persistentvolumeclaim %s already holds the latest snapshot %s\n", r.where(r.dst, candidate.Namespace, name), snap.Name)
			return nil
		}
	}
	pvc.Spec = corev1.PersistentVolumeClaimSpec{AccessModes: modes, StorageClassName: spec.StorageClassName, DataSource: from,
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *size}}}
	r.mark(pvc)
	if err := r.dc.Create(ctx, pvc); err != nil {
		return r.explain(r.dst, err)
	}
	fmt.Fprintf(out, "persistentvolumeclaim %s created from the latest snapshot %s: point the destination application at it\n",
		r.where(r.dst, pvc.Namespace, pvc.Name), snap.Name)
	return nil
}

// resume is continue-replication.
func (r *seedRun) resume(ctx context.Context) error {
	rs, err := r.ourSource(ctx)
	if err != nil {
		return err
	}
	ref := "replicationsource " + r.where(r.src, rs.Namespace, rs.Name)
	if rs.Spec.Trigger == nil || rs.Spec.Trigger.Manual == "" {
		fmt.Fprintf(r.a.out, "%s has no manual trigger; %s\n", ref, resumes(rs.Spec.Trigger))
		return nil
	}
	remove := fmt.Appendf(nil, `[{"op":"test","path":"/spec/trigger/manual","value":%q},{"op":"remove","path":"/spec/trigger/manual"}]`, rs.Spec.Trigger.Manual)
	if err := r.sc.Patch(ctx, rs, client.RawPatch(types.JSONPatchType, remove)); err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsConflict(err) {
			return cli.Hint(fmt.Errorf("the manual trigger of %s changed while it was being removed", ref), "run continue-replication again")
		}
		return r.explain(r.src, err)
	}
	fmt.Fprintf(r.a.out, "%s: manual trigger removed; %s\n", ref, resumes(rs.Spec.Trigger))
	return nil
}

// remove is remove-replication: it checks all three objects, then deletes those that exist.
func (r *seedRun) remove(ctx context.Context) error {
	rs := &volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Namespace: r.cfg.SourceNamespace, Name: r.srcName}}
	rsFound, err := r.lookup(ctx, r.src, r.sc, rs, "replicationsource", "source-name")
	if err != nil {
		return err
	}
	rd := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: metav1.ObjectMeta{Namespace: r.cfg.DestNamespace, Name: r.dstName}}
	rdFound, err := r.lookup(ctx, r.dst, r.dc, rd, "replicationdestination", "dest-name")
	if err != nil {
		return err
	}
	// The copy's name: ssh-keys-secret, else what the source uses, else what the destination publishes.
	keysName := r.cfg.SSHKeysSecret
	if keysName == "" && rsFound && rs.Spec.Rsync != nil {
		keysName = ptr.Deref(rs.Spec.Rsync.SSHKeys, "")
	}
	if keysName == "" && rdFound && rd.Status.Rsync != nil {
		keysName = ptr.Deref(rd.Status.Rsync.SSHKeys, "")
	}
	keys := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.cfg.SourceNamespace, Name: keysName}}
	keysFound := false
	if keysName != "" {
		if keysFound, err = r.lookup(ctx, r.src, r.sc, keys, "secret", "ssh-keys-secret"); err != nil {
			// The destination's own Secret, when both sides share a namespace, goes with the destination.
			if !(r.sameCluster() && r.cfg.SourceNamespace == r.cfg.DestNamespace && metav1.IsControlledBy(keys, rd)) {
				return err
			}
			keysFound = false
		}
	}
	out := r.a.out
	del := func(side *cli.SeedSide, c client.Client, obj client.Object, found bool, kind string) error {
		ref := kind + " " + r.where(side, obj.GetNamespace(), obj.GetName())
		if !found {
			fmt.Fprintf(out, "%s not found; nothing to remove\n", ref)
			return nil
		}
		if err := c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			return r.explain(side, err)
		}
		fmt.Fprintf(out, "%s removed\n", ref)
		return nil
	}
	if err := del(r.src, r.sc, rs, rsFound, "replicationsource"); err != nil {
		return err
	}
	if keysName != "" {
		if err := del(r.src, r.sc, keys, keysFound, "secret"); err != nil {
			return err
		}
	}
	if err := del(r.dst, r.dc, rd, rdFound, "replicationdestination"); err != nil {
		return err
	}
	fmt.Fprintf(out, "PVCs are kept; list them with 'kubectl --context %s -n %s get pvc' and prune stale ones yourself\n", r.dst.Context, r.cfg.DestNamespace)
	return nil
}
