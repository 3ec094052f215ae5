package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/volsync/volsync/pkg/cachepolicy"
	"github.com/volsync/volsync/pkg/mover/job"
	"github.com/volsync/volsync/pkg/mover/rclone"
	"github.com/volsync/volsync/pkg/mover/restic"
	"github.com/volsync/volsync/pkg/mover/rsync"
	"github.com/volsync/volsync/pkg/mover/rsynctls"
	"github.com/volsync/volsync/pkg/mover/syncthing"
	"github.com/volsync/volsync/pkg/schedulepolicy"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	clientconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
	"github.com/volsync/volsync/pkg/version"
)

// leaderElectionID names the Lease that volsyncd replicas compete for.
const leaderElectionID = "volsyncd.volsync.backube"

// defaultMaxConcurrentReconciles is the workers per controller (the Migration controller keeps its
// own, lower limit). Owners that share a policy come due in the same instant, and each waits for a
// free worker before its dated child is created: with a hundred, a hundred triggers start at once.
// Reconciles mostly wait on the API server, and an idle worker costs nothing.
const defaultMaxConcurrentReconciles = 100

// flags are volsyncd's command-line settings.
type flags struct {
	kubeconfig              string
	metricsAddr             string
	probeAddr               string
	leaderElect             bool
	leaderElectionNamespace string
	logLevel                string
	logFormat               string
	moverImage              string
	moverImageFlags         map[string]*string
	pullSecrets             string
	pullSecretsNamespace    string
	adminNamespace          string
	maxConcurrentReconciles int
	defaultPolicies         bool
}

func newRootCommand() *cobra.Command {
	f := flags{moverImageFlags: map[string]*string{}}
	cmd := &cobra.Command{
		Use:   "volsyncd",
		Short: "The volsync operator: replicates volumes and migrates applications between clusters",
		Long: `volsyncd reconciles the volsync.backube kinds (SchedulePolicy, ReplicationSource,
ReplicationDestination, MigrationSchedule, Migration, ClusterPair). It serves Prometheus metrics on
--metrics-bind-address (/metrics) and health probes on --health-probe-bind-address (/healthz, /readyz).

It finds the API server through --kubeconfig, else $KUBECONFIG, else the in-cluster service account,
else ~/.kube/config.`,
		Version:       version.Get().String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "path to a kubeconfig; default $KUBECONFIG, then in-cluster, then ~/.kube/config")
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", `address of the /metrics endpoint; "0" turns it off`)
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader so that only one of several replicas reconciles")
	fs.StringVar(&f.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease; default the pod's own namespace")
	fs.BoolVar(&f.defaultPolicies, "default-schedule-policies", true,
		"create Stork's default SchedulePolicies at start-up when missing (default-migration-policy, default-interval-policy, default-daily-policy, default-weekly-policy, default-monthly-policy); existing ones are never changed")
	fs.StringVar(&f.logLevel, "log-level", "info", "one of debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log-format", "json", "one of json, text")
	fs.StringVar(&f.moverImage, "mover-image", defaultMoverImage(),
		"container image of the mover Jobs, of every mover without an image of its own (--rsync-container-image and the like); default the mover image of volsyncd's version")
	addMoverImageFlags(fs, f.moverImageFlags)
	fs.StringVar(&f.pullSecrets, "mover-image-pull-secrets", "",
		"comma-separated Secrets of --pull-secrets-namespace that mover pods pull their image with; each is copied into the mover's namespace")
	fs.StringVar(&f.pullSecretsNamespace, "pull-secrets-namespace", ownNamespace(),
		"namespace of the --mover-image-pull-secrets Secrets; default volsyncd's own namespace")
	fs.StringVar(&f.adminNamespace, "admin-namespace", ownNamespace(),
		"namespace whose Migrations may migrate other namespaces; default volsyncd's own namespace")
	fs.IntVar(&f.maxConcurrentReconciles, "max-concurrent-reconciles", defaultMaxConcurrentReconciles,
		"how many objects of one kind are reconciled at once; triggers that come due together wait for a free worker")
	return cmd
}

// run starts the manager and blocks until SIGTERM or SIGINT, or until it fails.
func run(f flags) error {
	log, err := newLogger(os.Stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	setupLog := log.WithName("setup")
	setupLog.Info("starting volsyncd", "version", version.Get().String())

	cfg, err := restConfig(f.kubeconfig)
	if err != nil {
		return err
	}
	scheme, err := volsyncscheme.New()
	if err != nil {
		return fmt.Errorf("building the scheme: %w", err)
	}
	if err := registerBuildInfo(); err != nil {
		return fmt.Errorf("registering volsync_build_info: %w", err)
	}

	if f.maxConcurrentReconciles < 1 {
		return fmt.Errorf("--max-concurrent-reconciles must be at least 1, not %d", f.maxConcurrentReconciles)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   cachepolicy.Options(),
		NewClient:               cachepolicy.NewClient,
		Controller:              ctrlconfig.Controller{MaxConcurrentReconciles: f.maxConcurrentReconciles},
		Metrics:                 metricsserver.Options{BindAddress: f.metricsAddr},
		HealthProbeBindAddress:  f.probeAddr,
		LeaderElection:          f.leaderElect,
		LeaderElectionID:        leaderElectionID,
		LeaderElectionNamespace: f.leaderElectionNamespace,
		// Hand the Lease over at once on a clean shutdown instead of making the next leader wait
		// for it to expire.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("adding the /healthz check: %w", err)
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("adding the /readyz check: %w", err)
	}

	opts := Options{
		MoverImage:     f.moverImage,
		MoverImages:    moverImages(f.moverImageFlags, os.Getenv, f.moverImage),
		AdminNamespace: f.adminNamespace,
		PullSecrets:    job.PullSecrets{Namespace: f.pullSecretsNamespace, Names: parsePullSecrets(f.pullSecrets)},
	}
	if len(opts.PullSecrets.Names) > 0 && opts.PullSecrets.Namespace == "" {
		return fmt.Errorf("--mover-image-pull-secrets needs --pull-secrets-namespace outside a cluster (volsyncd's own namespace is not known)")
	}
	setupLog.Info("mover images", "rsync", opts.image(rsync.MoverName), "rsync-tls", opts.image(rsynctls.MoverName),
		"rclone", opts.image(rclone.MoverName), "restic", opts.image(restic.MoverName), "syncthing", opts.image(syncthing.MoverName),
		"pullSecrets", opts.PullSecrets.Names, "pullSecretsNamespace", opts.PullSecrets.Namespace)
	if f.defaultPolicies {
		if err := mgr.Add(schedulepolicy.DefaultsRunnable(mgr.GetClient())); err != nil {
			return fmt.Errorf("adding the default schedule policies: %w", err)
		}
	}
	for _, setup := range controllers {
		if err := setup(mgr, opts); err != nil {
			return fmt.Errorf("setting up a controller: %w", err)
		}
	}
	setupLog.Info("starting the manager", "controllers", len(controllers),
		"metricsAddress", f.metricsAddr, "probeAddress", f.probeAddr, "leaderElection", f.leaderElect)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("running the manager: %w", err)
	}
	setupLog.Info("stopped")
	return nil
}

// restConfig finds the API server: an explicit --kubeconfig wins; otherwise controller-runtime's
// usual order ($KUBECONFIG, in-cluster, ~/.kube/config).
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("reading --kubeconfig %s: %w", kubeconfig, err)
		}
		if cfg.QPS == 0 {
			// As controller-runtime does for the other sources: no client-side limit, the API
			// server's priority and fairness decides. client-go's default of 5 requests a second
			// would make a thousand triggers that fall on the same minute take minutes.
			cfg.QPS = -1
		}
		return cfg, nil
	}
	cfg, err := clientconfig.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("no API server configured: pass --kubeconfig, set KUBECONFIG, or run in a pod (%w)", err)
	}
	return cfg, nil
}

// ownNamespace is the namespace volsyncd runs in: $POD_NAMESPACE (set from the downward API in
// specs/manager), else the service account's namespace file, else "" outside a cluster.
func ownNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}
