package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
)

// The aliases stay clear of kubectl's own short names: rs is ReplicaSets.
var (
	replicationSourceAliases      = []string{"replicationsources", "repsrc"}
	replicationDestinationAliases = []string{"replicationdestinations", "repdst", "rd"}
	replicationSyncAliases        = []string{"replicationsyncs", "repsync"}
)

// triggerPollInterval is how often `trigger --wait` reads the object.
var triggerPollInterval = 2 * time.Second

func (a *app) getReplicationSourceCommand() *cobra.Command {
	return a.getCommand(getKind{
		resource: "replicationsource", aliases: replicationSourceAliases,
		what: "replication source", plural: "replication sources",
		short: "List replication sources, or show one",
		long: `List replication sources: NAME SOURCE LAST-SYNC DURATION NEXT-SYNC STATUS LAST-RESULT. STATUS is the
reason of the Synchronizing condition (SyncInProgress, WaitingForSchedule, WaitingForManual,
CleaningUp, Paused, Error); LAST-RESULT is that of the last mover run (Successful, Failed).
-o wide adds TRIGGER, MOVER and the PROGRESS of a running sync.`,
		example: `  volsyncctl get replicationsource -n app
  volsyncctl get repsrc -A -o wide
  volsyncctl get repsrc database -w`,
		newObject: func() client.Object { return &volsyncv1alpha1.ReplicationSource{} },
		newList:   func() client.ObjectList { return &volsyncv1alpha1.ReplicationSourceList{} },
		table: func(list client.ObjectList, allNamespaces, wide bool, now time.Time) cli.Table {
			return cli.ReplicationSourceTable(list.(*volsyncv1alpha1.ReplicationSourceList).Items, allNamespaces, wide, now)
		},
	})
}

func (a *app) getReplicationDestinationCommand() *cobra.Command {
	return a.getCommand(getKind{
		resource: "replicationdestination", aliases: replicationDestinationAliases,
		what: "replication destination", plural: "replication destinations",
		short: "List replication destinations, or show one",
		long: `List replication destinations: NAME LAST-SYNC DURATION NEXT-SYNC STATUS LAST-RESULT LATEST-IMAGE.
STATUS is the reason of the Synchronizing condition; LATEST-IMAGE the newest good copy (a
VolumeSnapshot, or the PVC with copyMethod Direct). -o wide adds TRIGGER, MOVER and PROGRESS, and
the kind of the latest image.`,
		example: `  volsyncctl get replicationdestination -n app
  volsyncctl get repdst database -o yaml`,
		newObject: func() client.Object { return &volsyncv1alpha1.ReplicationDestination{} },
		newList:   func() client.ObjectList { return &volsyncv1alpha1.ReplicationDestinationList{} },
		table: func(list client.ObjectList, allNamespaces, wide bool, now time.Time) cli.Table {
			return cli.ReplicationDestinationTable(list.(*volsyncv1alpha1.ReplicationDestinationList).Items, allNamespaces, wide, now)
		},
	})
}

func (a *app) getReplicationSyncCommand() *cobra.Command {
	return a.getCommand(getKind{
		resource: "replicationsync", aliases: replicationSyncAliases,
		what: "replication sync", plural: "replication syncs",
		short: "List the dated syncs a schedule policy started, or show one",
		long: `List ReplicationSyncs, the dated syncs that a source or destination with a schedulePolicyName creates
for each policy type that comes due: NAME OWNER TYPE SCHEDULED STATUS DURATION. -o wide adds
STARTED, FINISHED and the mover's SUMMARY.`,
		newObject: func() client.Object { return &volsyncv1alpha1.ReplicationSync{} },
		newList:   func() client.ObjectList { return &volsyncv1alpha1.ReplicationSyncList{} },
		table: func(list client.ObjectList, allNamespaces, wide bool, now time.Time) cli.Table {
			return cli.ReplicationSyncTable(list.(*volsyncv1alpha1.ReplicationSyncList).Items, allNamespaces, wide, now)
		},
	})
}

// replicated is what trigger reads and writes of a ReplicationSource or ReplicationDestination.
type replicated struct {
	resource string // replicationsource
	what     string // replication source
	object   func() client.Object
	status   func(client.Object) *volsyncv1alpha1.ReplicationStatus
	spec     func(client.Object) (trigger *volsyncv1alpha1.ReplicationTriggerSpec, paused bool)
}

var replicatedSource = replicated{
	resource: "replicationsource", what: "replication source",
	object: func() client.Object { return &volsyncv1alpha1.ReplicationSource{} },
	status: func(o client.Object) *volsyncv1alpha1.ReplicationStatus {
		return &o.(*volsyncv1alpha1.ReplicationSource).Status.ReplicationStatus
	},
	spec: func(o client.Object) (*volsyncv1alpha1.ReplicationTriggerSpec, bool) {
		s := o.(*volsyncv1alpha1.ReplicationSource)
		return s.Spec.Trigger, s.Spec.Paused
	},
}

var replicatedDestination = replicated{
	resource: "replicationdestination", what: "replication destination",
	object: func() client.Object { return &volsyncv1alpha1.ReplicationDestination{} },
	status: func(o client.Object) *volsyncv1alpha1.ReplicationStatus {
		return &o.(*volsyncv1alpha1.ReplicationDestination).Status.ReplicationStatus
	},
	spec: func(o client.Object) (*volsyncv1alpha1.ReplicationTriggerSpec, bool) {
		d := o.(*volsyncv1alpha1.ReplicationDestination)
		return d.Spec.Trigger, d.Spec.Paused
	},
}

func (a *app) triggerReplicationSourceCommand() *cobra.Command {
	return a.triggerCommand(replicatedSource, replicationSourceAliases)
}

func (a *app) triggerReplicationDestinationCommand() *cobra.Command {
	return a.triggerCommand(replicatedDestination, replicationDestinationAliases)
}

// triggerCommand is `trigger replicationsource|replicationdestination NAME`: sync now.
func (a *app) triggerCommand(r replicated, aliases []string) *cobra.Command {
	var (
		wait            bool
		timeout         time.Duration
		restoreSchedule bool
	)
	cmd := &cobra.Command{
		Use:     r.resource + " NAME [--wait=false] [--timeout 10m] [--restore-schedule]",
		Aliases: aliases,
		Short:   "Sync a " + r.what + " now, and wait for the sync to finish",
		Long: `Sync now: set spec.trigger.manual to a new value (the time, in RFC 3339) and, with --wait (the
default), wait until volsyncd records that value in status.lastManualSync. While it waits it
prints on stderr the Synchronizing condition's reason and message and the mover's progress each
time they change. It exits non-zero, in one line, when the sync fails or --timeout passes first;
the sync then goes on in the cluster.

A manual trigger beside a schedule or a schedule policy wins, as in VolSync: this works on
scheduled objects too, and the schedule stays stopped while the manual value is set. That is
what "set a manual trigger for a final sync" before a failover expects, so the manual value stays
after the sync by default. --restore-schedule removes it once the sync succeeded, and the
schedule (or, with no trigger, continuous syncing) takes over again. A sync that fails keeps the
manual value either way; volsyncd retries it after its backoff.`,
		Example: `  volsyncctl trigger replicationsource database -n app
  volsyncctl trigger repsrc database --timeout 30m --restore-schedule
  volsyncctl trigger repdst database --wait=false`,
		Args: nameArgs(true),
		RunE: func(cmd *cobra.Command, args []string) error {
			if restoreSchedule && !wait {
				return cli.Hint(errors.New("--restore-schedule needs --wait: the manual trigger is removed once the sync finished"),
					"drop --wait=false or --restore-schedule")
			}
			if timeout < 0 {
				return cli.Hint(fmt.Errorf("--timeout %s is negative", timeout), "pass a duration such as 10m, or 0 to wait as long as it takes")
			}
			c, err := a.opts.Client()
			if err != nil {
				return err
			}
			ctx, ns, name := cmd.Context(), a.opts.TargetNamespace(), args[0]
			ref := r.resource + "/" + name
			obj := r.object()
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
				return a.explainGet(err, r.what, name, "volsyncctl get "+r.resource+" -n "+ns)
			}
			trigger, paused := r.spec(obj)
			if paused {
				return cli.Hint(fmt.Errorf("%s %q in namespace %q is paused: a manual trigger would not run", r.what, name, ns),
					fmt.Sprintf("clear spec.paused first: kubectl patch %s %s -n %s --type merge -p '{\"spec\":{\"paused\":false}}'", r.resource, name, ns))
			}
			st := r.status(obj)
			failuresBefore := st.ConsecutiveFailures
			value := manualValue(time.Now(), trigger, st.LastManualSync)
			patch := fmt.Appendf(nil, `{"spec":{"trigger":{"manual":%q}}}`, value)
			if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
				return a.explain(err)
			}
			fmt.Fprintf(a.out, "%s triggered (spec.trigger.manual: %s)\n", ref, value)
			if !wait {
				return nil
			}
			start := time.Now()
			got, err := a.awaitManualSync(ctx, c, r, client.ObjectKey{Namespace: ns, Name: name}, value, failuresBefore, timeout)
			if err != nil {
				return err
			}
			took := time.Since(start).Round(time.Second)
			if d := r.status(got).LastSyncDuration; d != nil {
				took = d.Duration.Round(time.Second)
			}
			fmt.Fprintf(a.out, "%s synced in %s\n", ref, took)
			if !restoreSchedule {
				return nil
			}
			// Only if the value is still the one this command set: a newer trigger stays.
			remove := fmt.Appendf(nil, `[{"op":"test","path":"/spec/trigger/manual","value":%q},{"op":"remove","path":"/spec/trigger/manual"}]`, value)
			if err := c.Patch(ctx, got, client.RawPatch(types.JSONPatchType, remove)); err != nil {
				return cli.Hint(fmt.Errorf("%s synced, but its manual trigger could not be removed: %w", ref, a.explain(err)),
					fmt.Sprintf("remove it with 'kubectl patch %s %s -n %s --type json -p '[{\"op\":\"remove\",\"path\":\"/spec/trigger/manual\"}]''", r.resource, name, ns))
			}
			fmt.Fprintf(a.out, "%s: manual trigger removed; %s\n", ref, resumes(trigger))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&wait, "wait", true, "wait until the sync finished; exit non-zero if it fails")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "with --wait, give up after this long (0: no limit); the sync goes on")
	fs.BoolVar(&restoreSchedule, "restore-schedule", false, "after a successful sync, remove spec.trigger.manual so that the schedule resumes")
	return cmd
}

// manualValue is a spec.trigger.manual value that differs from the current one and from the last
// one synced: the time in RFC 3339, to the nanosecond when the second is already taken.
func manualValue(now time.Time, trigger *volsyncv1alpha1.ReplicationTriggerSpec, lastManualSync string) string {
	current := ""
	if trigger != nil {
		current = trigger.Manual
	}
	for _, layout := range []string{time.RFC3339, time.RFC3339Nano} {
		if v := now.UTC().Format(layout); v != current && v != lastManualSync {
			return v
		}
	}
	return now.UTC().Format(time.RFC3339Nano) + "-1"
}

// resumes says what starts the syncs once the manual trigger is gone.
func resumes(t *volsyncv1alpha1.ReplicationTriggerSpec) string {
	switch {
	case t != nil && t.Schedule != nil && *t.Schedule != "":
		return fmt.Sprintf("the schedule %q resumes", *t.Schedule)
	case t != nil && t.SchedulePolicyName != "":
		return fmt.Sprintf("the schedule policy %q resumes", t.SchedulePolicyName)
	}
	return "it syncs continuously again"
}

// awaitManualSync polls the object until status.lastManualSync is value, printing on stderr the
// Synchronizing condition and the progress whenever they change. A sync that fails after the
// trigger (consecutiveFailures rose above failuresBefore, latestMoverStatus.result Failed), a
// deleted object and the timeout end it with an error.
func (a *app) awaitManualSync(ctx context.Context, c client.Client, r replicated, key client.ObjectKey, value string,
	failuresBefore int32, timeout time.Duration) (client.Object, error) {
	ref := r.resource + "/" + key.Name
	obj := r.object()
	lastLine := ""
	err := pollEvery(ctx, triggerPollInterval, timeout, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, key, obj); err != nil {
			return false, err
		}
		st := r.status(obj)
		if line := progressLine(st); line != "" && line != lastLine {
			lastLine = line
			fmt.Fprintf(a.root.ErrOrStderr(), "%s: %s\n", ref, line)
		}
		if st.LastManualSync == value {
			return true, nil
		}
		if trigger, _ := r.spec(obj); trigger == nil || trigger.Manual != value {
			now := "removed"
			if trigger != nil && trigger.Manual != "" {
				now = fmt.Sprintf("changed to %q", trigger.Manual)
			}
			return false, cli.Hint(fmt.Errorf("spec.trigger.manual of %s was %s while waiting for the sync of %q", ref, now, value),
				fmt.Sprintf("someone else triggers it; follow it with 'volsyncctl get %s %s -n %s -w'", r.resource, key.Name, key.Namespace))
		}
		if st.ConsecutiveFailures > failuresBefore && st.LatestMoverStatus != nil && st.LatestMoverStatus.Result == volsyncv1alpha1.MoverResultFailed {
			retry := "at its next attempt"
			if st.NextRetryTime != nil {
				retry = "from " + cli.Timestamp(st.NextRetryTime)
			}
			return false, cli.Hint(fmt.Errorf("the sync of %s failed: %s", ref, failureMessage(st)),
				fmt.Sprintf("volsyncd retries it %s; see 'kubectl describe %s %s -n %s'", retry, r.resource, key.Name, key.Namespace))
		}
		return false, nil
	})
	switch {
	case errors.Is(err, errNotFinished) && ctx.Err() == nil:
		return nil, cli.Hint(fmt.Errorf("the sync of %s did not finish within %s", ref, timeout),
			fmt.Sprintf("it goes on in the cluster; follow it with 'volsyncctl get %s %s -n %s -w'", r.resource, key.Name, key.Namespace))
	case errors.Is(err, errNotFinished):
		return nil, fmt.Errorf("stopped waiting for the sync of %s; it goes on in the cluster", ref)
	case err != nil:
		return nil, a.explainGet(err, r.what, key.Name, "volsyncctl get "+r.resource+" -n "+key.Namespace)
	}
	return obj, nil
}

// progressLine is "REASON: MESSAGE; PROGRESS" from the Synchronizing condition and the mover's
// progress; "" when there is neither.
func progressLine(st *volsyncv1alpha1.ReplicationStatus) string {
	var parts []string
	if cond := meta.FindStatusCondition(st.Conditions, volsyncv1alpha1.ConditionSynchronizing); cond != nil {
		text := cond.Reason
		if cond.Message != "" {
			text += ": " + cond.Message
		}
		parts = append(parts, text)
	}
	if p := cli.ProgressText(st.Progress); p != cli.None {
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// failureMessage is the mover's last word on a failed sync: the last line of its log, else the
// Synchronizing condition's message.
func failureMessage(st *volsyncv1alpha1.ReplicationStatus) string {
	if m := st.LatestMoverStatus; m != nil {
		lines := strings.Split(strings.TrimSpace(m.Logs), "\n")
		if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
			return last
		}
		if m.Summary != "" {
			return m.Summary
		}
	}
	if cond := meta.FindStatusCondition(st.Conditions, volsyncv1alpha1.ConditionSynchronizing); cond != nil && cond.Message != "" {
		return cond.Message
	}
	return "the mover failed"
}
