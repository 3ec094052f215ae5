package main

import (
	"time"

	"github.com/spf13/cobra"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
)

// describable is one kind `describe` knows: how to read it and how to describe it.
type describable struct {
	resource, kind, what string
	aliases              []string
	object               func() client.Object
	describe             func(obj client.Object, events []eventsv1.Event, now time.Time) *cli.Description
}

var describables = []describable{
	{resource: "replicationsource", kind: "ReplicationSource", what: "replication source", aliases: replicationSourceAliases,
		object: func() client.Object { return &volsyncv1alpha1.ReplicationSource{} },
		describe: func(o client.Object, e []eventsv1.Event, now time.Time) *cli.Description {
			return cli.DescribeReplicationSource(o.(*volsyncv1alpha1.ReplicationSource), e, now)
		}},
	{resource: "replicationdestination", kind: "ReplicationDestination", what: "replication destination", aliases: replicationDestinationAliases,
		object: func() client.Object { return &volsyncv1alpha1.ReplicationDestination{} },
		describe: func(o client.Object, e []eventsv1.Event, now time.Time) *cli.Description {
			return cli.DescribeReplicationDestination(o.(*volsyncv1alpha1.ReplicationDestination), e, now)
		}},
	{resource: "migration", kind: "Migration", what: "migration", aliases: migrationAliases,
		object: func() client.Object { return &volsyncv1alpha1.Migration{} },
		describe: func(o client.Object, e []eventsv1.Event, now time.Time) *cli.Description {
			return cli.DescribeMigration(o.(*volsyncv1alpha1.Migration), e, now)
		}},
	{resource: "migrationschedule", kind: "MigrationSchedule", what: "migration schedule", aliases: migrationScheduleAliases,
		object: func() client.Object { return &volsyncv1alpha1.MigrationSchedule{} },
		describe: func(o client.Object, e []eventsv1.Event, now time.Time) *cli.Description {
			return cli.DescribeMigrationSchedule(o.(*volsyncv1alpha1.MigrationSchedule), e, now)
		}},
	{resource: "clusterpair", kind: "ClusterPair", what: "cluster pair", aliases: clusterPairAliases,
		object: func() client.Object { return &volsyncv1alpha1.ClusterPair{} },
		describe: func(o client.Object, e []eventsv1.Event, now time.Time) *cli.Description {
			return cli.DescribeClusterPair(o.(*volsyncv1alpha1.ClusterPair), e, now)
		}},
}

// describeCommands are `describe <kind> NAME` for each describable kind.
func (a *app) describeCommands() []*cobra.Command {
	var out []*cobra.Command
	for _, d := range describables {
		out = append(out, &cobra.Command{
			Use:     d.resource + " NAME",
			Aliases: d.aliases,
			Short:   "Show a " + d.what + ": what it is set to, where it stands, its conditions and its latest Events",
			Args:    cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := a.opts.Client()
				if err != nil {
					return err
				}
				ns := a.opts.TargetNamespace()
				obj := d.object()
				if err := c.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: args[0]}, obj); err != nil {
					return a.explainGet(err, d.what, args[0], "volsyncctl get "+d.resource+" -n "+ns)
				}
				// Events are what the user's window shows of every wait and error; a reader that
				// may not list them still gets the rest.
				var events eventsv1.EventList
				var about []eventsv1.Event
				if err := c.List(cmd.Context(), &events, client.InNamespace(ns)); err == nil {
					for _, e := range events.Items {
						if e.Regarding.Kind == d.kind && e.Regarding.Name == obj.GetName() &&
							(e.Regarding.UID == "" || e.Regarding.UID == obj.GetUID()) {
							about = append(about, e)
						}
					}
				}
				return d.describe(obj, about, time.Now()).Print(a.out, time.Now())
			},
		})
	}
	return out
}
