package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/volsync/volsync/pkg/cli"
)

// app holds what every command shares: the global flags and where output goes.
type app struct {
	opts cli.GlobalOptions
	out  io.Writer
	root *cobra.Command
}

func newApp(out, errOut io.Writer, asPlugin bool) *app {
	a := &app{out: out}
	root := &cobra.Command{
		Use:   "volsyncctl",
		Short: "Manage volsync: schedule policies, volume replication and application migration",
		Long: `volsyncctl manages the volsync.backube objects of a cluster: schedule policies, volume
replication (ReplicationSource, ReplicationDestination) and application migration (MigrationSchedule,
Migration, ClusterPair).

Installed on the PATH as kubectl-volsync, it also works as the kubectl plugin "kubectl volsync".`,
		Args:          cobra.ArbitraryArgs,
		RunE:          showHelpOrRejectArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			_, err := a.opts.OutputFormat()
			return err
		},
	}
	if asPlugin {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl volsync"}
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return cli.Hint(err, fmt.Sprintf("see '%s --help'", cmd.CommandPath()))
	})
	a.opts.AddFlags(root.PersistentFlags())
	_ = root.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		formats := make([]string, 0, len(cli.OutputFormats))
		for _, f := range cli.OutputFormats {
			formats = append(formats, string(f))
		}
		return formats, cobra.ShellCompDirectiveNoFileComp
	})
	a.root = root
	a.addCommands()
	return a
}

// addCommands builds the command tree, one line per command. Commands under a verb, such as
// `get schedulepolicy`, are added with a.verb("get").AddCommand(...). cobra adds `completion`
// (bash, zsh, fish, powershell) and `help` itself.
func (a *app) addCommands() {
	a.root.AddCommand(a.versionCommand())
	a.verb("get", "Show volsync objects").AddCommand(a.getSchedulePolicyCommand())
	a.verb("create", "Create volsync objects from flags").AddCommand(a.createSchedulePolicyCommand())
	a.verb("delete", "Delete volsync objects").AddCommand(a.deleteSchedulePolicyCommand())
	a.verb("preview", "Show when a schedule fires, computed locally").AddCommand(a.previewSchedulePolicyCommand())
	a.verb("generate", "Print manifests to apply").AddCommand(a.generateClusterPairCommand())
	a.root.AddCommand(a.validateCommand(), a.convertCommand())
	a.verb("get", "Show volsync objects").AddCommand(a.getMigrationScheduleCommand())
	a.verb("create", "Create volsync objects from flags").AddCommand(a.createMigrationScheduleCommand())
	a.verb("delete", "Delete volsync objects").AddCommand(a.deleteMigrationScheduleCommand())
	a.verb("suspend", "Stop schedules from creating runs").AddCommand(a.suspendMigrationScheduleCommand())
	a.verb("resume", "Let suspended schedules create runs again").AddCommand(a.resumeMigrationScheduleCommand())
	a.verb("get", "Show volsync objects").AddCommand(a.getMigrationCommand())
	a.verb("create", "Create volsync objects from flags").AddCommand(a.createMigrationCommand())
	a.verb("delete", "Delete volsync objects").AddCommand(a.deleteMigrationCommand())
	a.verb("activate", "Start migrated applications on the destination cluster").AddCommand(a.activateMigrationCommand())
	a.verb("deactivate", "Stop migrated applications on the destination cluster").AddCommand(a.deactivateMigrationCommand())
	a.verb("get", "Show volsync objects").AddCommand(a.getReplicationSourceCommand(), a.getReplicationDestinationCommand(), a.getReplicationSyncCommand())
	a.verb("get", "Show volsync objects").AddCommand(a.getClusterPairCommand())
	a.verb("create", "Create volsync objects from flags").AddCommand(a.createClusterPairCommand())
	a.verb("describe", "Show one volsync object in full: settings, state, conditions and Events").AddCommand(a.describeCommands()...)
	a.verb("trigger", "Sync now, and wait for the sync").AddCommand(a.triggerReplicationSourceCommand(), a.triggerReplicationDestinationCommand())
	a.performVerb().AddCommand(a.performFailoverCommand(), a.performFailbackCommand(), a.performDrillCommand())
	a.root.AddCommand(a.startReplicationCommand(), a.setReplicationCommand(), a.continueReplicationCommand(), a.removeReplicationCommand())
	a.root.AddCommand(a.replicationRelationshipCommand(), a.migrationRelationshipCommand())
}

// verb returns the parent command of a verb such as get, create or delete, making it on first use.
// A verb alone only prints its help.
func (a *app) verb(name, short string) *cobra.Command {
	for _, c := range a.root.Commands() {
		if c.Name() == name {
			return c
		}
	}
	c := &cobra.Command{
		Use:   name,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE:  showHelpOrRejectArgs,
	}
	a.root.AddCommand(c)
	return c
}

// showHelpOrRejectArgs is the RunE of commands that only group others: with no argument it prints
// help; with one it names the unknown subcommand in a single line instead of cobra's multi-line
// suggestion text.
func showHelpOrRejectArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, which it only sets on its own path
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return cli.Hint(fmt.Errorf("%s", msg), fmt.Sprintf("run '%s --help' for the list of commands", cmd.CommandPath()))
}
