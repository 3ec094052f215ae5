package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
	"github.com/volsync/volsync/pkg/schedule"
)

var schedulePolicyAliases = []string{"schedulepolicies", "sp"}

func (a *app) getSchedulePolicyCommand() *cobra.Command {
	return a.getCommand(getKind{
		resource: "schedulepolicy", aliases: schedulePolicyAliases, clusterScoped: true,
		what: "schedule policy", plural: "schedule policies",
		short: "List schedule policies, or show one",
		long: `List schedule policies as storkctl does: NAME INTERVAL-MINUTES DAILY WEEKLY MONTHLY, with N/A for
a section the policy does not use. -o wide adds the time zone of the policy's times.`,
		newObject: func() client.Object { return &volsyncv1alpha1.SchedulePolicy{} },
		newList:   func() client.ObjectList { return &volsyncv1alpha1.SchedulePolicyList{} },
		table: func(list client.ObjectList, _, wide bool, _ time.Time) cli.Table {
			return cli.SchedulePolicyTable(list.(*volsyncv1alpha1.SchedulePolicyList).Items, wide)
		},
	})
}

func (a *app) createSchedulePolicyCommand() *cobra.Command {
	var f cli.SchedulePolicyFlags
	dryRun := false
	cmd := &cobra.Command{
		Use:     "schedulepolicy NAME",
		Aliases: schedulePolicyAliases,
		Short:   "Create a schedule policy from flags",
		Example: `  volsyncctl create schedulepolicy nightly --daily 11:30PM --retain daily=14 --time-zone Europe/Berlin
  volsyncctl create schedulepolicy testpolicy --interval 1 --daily 10:14PM --weekly Thursday@10:13PM --monthly 14@8:05PM`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := a.opts.OutputFormat()
			if err != nil {
				return err
			}
			item, err := f.Policy()
			if err != nil {
				return err
			}
			p := &volsyncv1alpha1.SchedulePolicy{
				TypeMeta:   metav1.TypeMeta{APIVersion: volsyncv1alpha1.GroupVersion.String(), Kind: "SchedulePolicy"},
				ObjectMeta: metav1.ObjectMeta{Name: args[0]},
				Policy:     item,
			}
			// Checked here first, with the same rules and messages as admission, so that a bad flag
			// is reported even when the cluster is out of reach.
			if problems := schedule.ValidatePolicy(item); len(problems) > 0 {
				return fmt.Errorf("schedule policy %q is invalid: %s", p.Name, problems.ToAggregate().Error())
			}
			scheme, err := volsyncscheme.New()
			if err != nil {
				return err
			}
			if dryRun {
				if format == cli.OutputTable {
					format = cli.OutputYAML
				}
				return cli.PrintObject(a.out, format, scheme, p, nil)
			}
			c, err := a.opts.Client()
			if err != nil {
				return err
			}
			if err := c.Create(cmd.Context(), p); err != nil {
				if apierrors.IsAlreadyExists(err) {
					return cli.Hint(fmt.Errorf("schedule policy %q already exists", p.Name),
						"delete it first or pick another name")
				}
				return a.explain(err)
			}
			if format != cli.OutputTable {
				return cli.PrintObject(a.out, format, scheme, p, nil)
			}
			fmt.Fprintf(a.out, "schedulepolicy/%s created\n", p.Name)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.Int32VarP(&f.IntervalMinutes, "interval", "i", 0, "trigger every N minutes")
	fs.StringVar(&f.Daily, "daily", "", "trigger every day at TIME, such as 10:14PM")
	fs.StringVar(&f.Weekly, "weekly", "", "trigger every week at DAY@TIME, such as Thursday@10:13PM")
	fs.StringVar(&f.Monthly, "monthly", "", "trigger every month at DATE@TIME, such as 14@8:05PM (a date the month lacks rolls over)")
	fs.StringArrayVar(&f.Retain, "retain", nil, "TYPE=N: keep N children of that type (interval, daily, weekly, monthly); repeatable")
	fs.StringVar(&f.TimeZone, "time-zone", "", "IANA time zone of the times, such as Europe/Berlin (default UTC)")
	fs.Int32Var(&f.StartingDeadlineMinutes, "starting-deadline-minutes", 0, "skip a missed trigger later than this (default: always catch up once)")
	fs.BoolVar(&dryRun, "dry-run", false, "print the policy instead of creating it")
	return cmd
}

func (a *app) deleteSchedulePolicyCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "schedulepolicy NAME",
		Aliases: schedulePolicyAliases,
		Short:   "Delete a schedule policy that nothing uses",
		Long: `Delete a schedule policy. It is refused while any ReplicationSource, ReplicationDestination or
MigrationSchedule in any namespace points at the policy: they would stop running.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.opts.Client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			name := args[0]
			var p volsyncv1alpha1.SchedulePolicy
			if err := c.Get(ctx, client.ObjectKey{Name: name}, &p); err != nil {
				return a.explainGet(err, "schedule policy", name, "volsyncctl get schedulepolicy")
			}
			users, err := cli.PolicyUsers(ctx, c, name)
			if err != nil {
				return a.explain(err)
			}
			if len(users) > 0 {
				return cli.Hint(fmt.Errorf("schedule policy %q is in use by %s", name, strings.Join(users, ", ")),
					"point them at another policy or delete them first")
			}
			// The precondition makes the delete fail if the policy changed since it was checked.
			if err := c.Delete(ctx, &p, client.Preconditions{UID: &p.UID, ResourceVersion: &p.ResourceVersion}); err != nil {
				return a.explain(err)
			}
			fmt.Fprintf(a.out, "schedulepolicy/%s deleted\n", name)
			return nil
		},
	}
}

func (a *app) validateCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a schedule policy file locally, without a cluster",
		Long: `Check every SchedulePolicy in FILE with the rules the API server applies at admission. Prints
one line per problem, naming the field, and exits 1 when there is any; exits 0 when all are valid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			policies, err := readPolicies(file)
			if err != nil {
				return err
			}
			bad := 0
			for _, p := range policies {
				problems := schedule.ValidatePolicy(p.Policy)
				for _, problem := range problems {
					fmt.Fprintf(a.out, "schedulepolicy %q: %s\n", p.Name, problem.Error())
				}
				if len(problems) == 0 {
					fmt.Fprintf(a.out, "schedulepolicy %q is valid\n", p.Name)
				}
				bad += len(problems)
			}
			if bad > 0 {
				return cli.Exit(1)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the policy file (YAML or JSON; - for standard input)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// previewEntry is one line of `preview schedulepolicy -o json`.
type previewEntry struct {
	Type string `json:"type"`
	Time string `json:"time"`
}

func (a *app) previewSchedulePolicyCommand() *cobra.Command {
	var (
		file  string
		from  string
		count int
	)
	cmd := &cobra.Command{
		Use:     "schedulepolicy (NAME | -f FILE)",
		Aliases: schedulePolicyAliases,
		Short:   "List the next trigger times of each type of a policy",
		Long: `List the next COUNT trigger times of each type of a policy, computed locally by the engine the
controller runs, as if the policy started at --from with no earlier triggers: the interval's first
trigger is --from itself; every other type lists its times at or after it. Times are in the policy's
time zone.`,
		Example: `  volsyncctl preview schedulepolicy -f policy.yaml --from 2023-01-01T00:00:00Z --count 14
  volsyncctl preview schedulepolicy testpolicy --count 3 -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := a.opts.OutputFormat()
			if err != nil {
				return err
			}
			if (file == "") == (len(args) == 0) {
				return errors.New("name a policy or pass -f FILE, not both: see 'volsyncctl preview schedulepolicy --help'")
			}
			if count < 1 {
				return fmt.Errorf("--count %d: must be at least 1", count)
			}
			start := time.Now()
			if from != "" {
				if start, err = time.Parse(time.RFC3339, from); err != nil {
					return fmt.Errorf("--from %q is not an RFC 3339 time such as 2023-01-01T00:00:00Z", from)
				}
			}
			var policy volsyncv1alpha1.SchedulePolicy
			if file != "" {
				policies, err := readPolicies(file)
				if err != nil {
					return err
				}
				if len(policies) != 1 {
					return fmt.Errorf("%s holds %d schedule policies: preview takes a file with one", file, len(policies))
				}
				policy = policies[0]
			} else {
				c, err := a.opts.Client()
				if err != nil {
					return err
				}
				if err := c.Get(cmd.Context(), client.ObjectKey{Name: args[0]}, &policy); err != nil {
					return a.explainGet(err, "schedule policy", args[0], "volsyncctl get schedulepolicy")
				}
			}
			compiled, err := schedule.Compile(policy.Name, policy.Policy)
			if err != nil {
				return err
			}
			entries := []previewEntry{}
			for _, o := range compiled.Preview(start, count) {
				entries = append(entries, previewEntry{Type: string(o.Type), Time: o.Time.In(compiled.Location).Format(time.RFC3339)})
			}
			if format != cli.OutputTable {
				return cli.PrintData(a.out, format, entries)
			}
			t := cli.Table{Headers: []string{"TYPE", "TIME", "WEEKDAY"}}
			for _, e := range entries {
				at, _ := time.Parse(time.RFC3339, e.Time)
				t.AddRow(e.Type, e.Time, at.Weekday().String())
			}
			return t.Write(a.out)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "a policy file instead of a policy in the cluster (- for standard input)")
	cmd.Flags().StringVar(&from, "from", "", "RFC 3339 instant the policy starts at (default now)")
	cmd.Flags().IntVar(&count, "count", 5, "how many trigger times of each type")
	return cmd
}

// readPolicies reads the SchedulePolicies of a file, or of standard input for "-".
func readPolicies(file string) ([]volsyncv1alpha1.SchedulePolicy, error) {
	data, err := readInput(file, os.Stdin)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	policies, err := cli.DecodeSchedulePolicies(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return policies, nil
}

// explain adds a hint to an error from the API server.
func (a *app) explain(err error) error {
	cfg, cerr := a.opts.RESTConfig()
	host := ""
	if cerr == nil {
		host = cfg.Host
	}
	return cli.Explain(err, host)
}

// explainGet turns a missing object into one line that says how to list the existing ones.
func (a *app) explainGet(err error, what, name, list string) error {
	var status apierrors.APIStatus
	if apierrors.IsNotFound(err) && errors.As(err, &status) && status.Status().Details != nil && status.Status().Details.Name != "" {
		return cli.Hint(fmt.Errorf("%s %q not found", what, name), "list them with '"+list+"'")
	}
	return a.explain(err)
}
