package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
	"github.com/volsync/volsync/pkg/migration/remote"
)

// `perform failover|failback|drill` act on the two clusters of one MigrationSchedule: the source,
// where the schedule lives (--kubeconfig, --context), and the destination, reached with
// --destination-context or through the schedule's ClusterPair. Each reads and checks everything
// it needs before its first write, so a refused command changes nothing, and each can be run
// again after an interruption: what is done already is said and skipped, and a Migration it
// started is found again by name (recorded on the schedule) rather than started twice.

// destinationTimeout bounds each request to the destination cluster.
const destinationTimeout = 30 * time.Second

// defaultPerformTimeout is how long a perform command waits for a Migration, or for applications
// to become ready, unless --timeout says otherwise.
const defaultPerformTimeout = 30 * time.Minute

// performFlags are the flags every perform command takes.
type performFlags struct {
	schedule           string
	destinationContext string
	timeout            time.Duration
}

func (f *performFlags) add(fs *pflag.FlagSet) {
	fs.StringVarP(&f.schedule, "migration-schedule", "m", "", "the MigrationSchedule, in the namespace -n of the source cluster (required)")
	fs.StringVar(&f.destinationContext, "destination-context", "",
		"kubeconfig context of the destination cluster (default: reach it through the schedule's ClusterPair)")
	fs.DurationVar(&f.timeout, "timeout", defaultPerformTimeout, "give up waiting for a migration, or for applications to be ready, after this long")
}

// check refuses a command without a schedule.
func (f *performFlags) check() error {
	if f.schedule == "" {
		return cli.Hint(errors.New("no migration schedule given"),
			"pass -m NAME; list them with 'volsyncctl get migrationschedule'")
	}
	if f.timeout <= 0 {
		return cli.Hint(fmt.Errorf("--timeout %s is not a positive duration", f.timeout), "pass it as --timeout 30m")
	}
	return nil
}

func (a *app) performVerb() *cobra.Command {
	return a.verb("perform", "Fail over, fail back or drill the disaster recovery of a MigrationSchedule")
}

// reachSource reads the schedule from the source cluster within timeout. It returns the source
// and the schedule, or, when the source cannot be reached, why (unreachable). err is an error the
// user has to fix: a bad kubeconfig, refused credentials, a schedule that does not exist.
func (a *app) reachSource(ctx context.Context, ns, name string, timeout time.Duration) (src *site, ms *volsyncv1alpha1.MigrationSchedule, unreachable, err error) {
	c, host, err := a.opts.ClientWithin(timeout)
	where := site{host: host, name: "the current context"}
	if a.opts.Context != "" {
		where.name = "context " + a.opts.Context
	}
	s := site{client: c, host: host, name: "the source cluster (" + where.name + ")"}
	if err != nil {
		if cli.IsUnreachable(err) {
			return nil, nil, describeRequestError(err, where, timeout), nil
		}
		return nil, nil, nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var got volsyncv1alpha1.MigrationSchedule
	err = c.Get(rctx, client.ObjectKey{Namespace: ns, Name: name}, &got)
	switch {
	case err == nil:
		return &s, &got, nil, nil
	case apierrors.IsNotFound(err) && !cli.IsMissingResource(err):
		return nil, nil, nil, cli.Hint(fmt.Errorf("migration schedule %q not found in namespace %q", name, ns),
			"list them with 'volsyncctl get migrationschedule -n "+ns+"'")
	case cli.IsUnreachable(err):
		return nil, nil, describeRequestError(err, where, timeout), nil
	}
	return nil, nil, nil, s.explain(err)
}

// reachBoth reaches the source, which `perform verb` cannot do without (hint says what to do
// when it is away), reads the schedule there, and reaches its destination.
func (a *app) reachBoth(ctx context.Context, f performFlags, verb, hint string) (*site, site, *volsyncv1alpha1.MigrationSchedule, error) {
	src, ms, unreachable, err := a.reachSource(ctx, a.opts.TargetNamespace(), f.schedule, sourceTimeout)
	if err != nil {
		return nil, site{}, nil, err
	}
	if src == nil {
		return nil, site{}, nil, cli.Hint(fmt.Errorf("perform %s needs the source cluster, which cannot be reached: %v", verb, unreachable), hint)
	}
	dest, err := a.reachDestination(ctx, f.destinationContext, src, ms)
	if err != nil {
		return nil, site{}, nil, err
	}
	return src, dest, ms, nil
}

// reachDestination is the destination cluster: the context --destination-context of the same
// kubeconfig, else what the schedule's ClusterPair reaches (read from the source).
func (a *app) reachDestination(ctx context.Context, destinationContext string, src *site, ms *volsyncv1alpha1.MigrationSchedule) (site, error) {
	if destinationContext != "" {
		s, err := a.contextSite(destinationContext, destinationTimeout)
		s.name = "the destination (context " + destinationContext + ")"
		return s, err
	}
	if src == nil {
		return site{}, cli.Hint(errors.New("the destination is reached through the schedule's ClusterPair, which is on the source cluster"),
			"pass --destination-context NAME, the kubeconfig context of the destination cluster")
	}
	name := ms.Spec.Template.Spec.ClusterPair
	var pair volsyncv1alpha1.ClusterPair
	if err := src.client.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: name}, &pair); err != nil {
		if apierrors.IsNotFound(err) && !cli.IsMissingResource(err) {
			return site{}, cli.Hint(fmt.Errorf("cluster pair %q of migration schedule %q not found in namespace %q", name, ms.Name, ms.Namespace),
				"pass --destination-context NAME to reach the destination with a context of the kubeconfig")
		}
		return site{}, src.explain(err)
	}
	cfg, err := remote.Config(ctx, src.client, &pair)
	if err != nil {
		return site{}, cli.Hint(fmt.Errorf("cluster pair %q: %w", name, err), "or pass --destination-context NAME to reach the destination with a context of the kubeconfig")
	}
	c, err := cli.NewClient(cfg)
	if err != nil {
		return site{}, err
	}
	return site{client: c, host: cfg.Host, name: "the destination (cluster pair " + name + ")"}, nil
}

// recordEvent leaves the record of a perform command on the schedule. It is best effort: the work
// is done, and a missing record is said on stderr.
func (a *app) recordEvent(ctx context.Context, src site, ms *volsyncv1alpha1.MigrationSchedule, eventType, action, reason, note string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sourceTimeout)
	defer cancel()
	ev := cli.ScheduleEvent(ms, eventType, action, reason, note, time.Now())
	if err := src.client.Create(ctx, ev); err != nil {
		fmt.Fprintf(a.root.ErrOrStderr(), "warning: the %s event was not recorded on migrationschedule/%s: %v\n", reason, ms.Name, err)
		return
	}
	fmt.Fprintf(a.out, "event %s recorded on migrationschedule/%s\n", reason, ms.Name)
}

// suspended says whether the schedule creates no Migrations.
func suspended(ms *volsyncv1alpha1.MigrationSchedule) bool {
	return ms.Spec.Suspend != nil && *ms.Spec.Suspend
}

// suspendSchedule stops the schedule from creating Migrations.
func (a *app) suspendSchedule(ctx context.Context, src site, ms *volsyncv1alpha1.MigrationSchedule) error {
	if suspended(ms) {
		fmt.Fprintf(a.out, "migrationschedule/%s already suspended\n", ms.Name)
		return nil
	}
	if err := src.client.Patch(ctx, ms, mergePatch(map[string]any{"spec": map[string]any{"suspend": true}})); err != nil {
		return src.explain(err)
	}
	fmt.Fprintf(a.out, "migrationschedule/%s suspended\n", ms.Name)
	return nil
}

// runDuration is how long a finished Migration ran by its own account, else since started.
func runDuration(m *volsyncv1alpha1.Migration, started time.Time) time.Duration {
	if m.Status.StartTimestamp != nil && m.Status.FinishTimestamp != nil {
		return m.Status.FinishTimestamp.Sub(m.Status.StartTimestamp.Time)
	}
	return time.Since(started)
}
