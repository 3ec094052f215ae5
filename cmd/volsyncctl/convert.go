package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/volsync/volsync/pkg/cli"
	"github.com/volsync/volsync/pkg/convert"
)

func (a *app) convertCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "convert -f FILE",
		Short: "Rewrite Stork manifests into volsync's, saying what could not be carried over",
		Long: `Read Stork's SchedulePolicy, NamespacedSchedulePolicy, MigrationSchedule, Migration, Rule and
ClusterPair objects (stork.libopenstorage.org/v1alpha1; several documents separated by ---, or a
List as 'kubectl get -o yaml' prints it) and print them as volsync's, ready for 'kubectl apply -f -'.

The apiVersion becomes volsync.backube/v1alpha1, and what the API server set on an exported object
(uid, resourceVersion, status, ...) is dropped. A ClusterPair's inline kubeconfig (spec.config,
as 'storkctl generate clusterpair' writes it) becomes a Secret <pair>-kubeconfig, printed before
the pair, which points at it. Every field volsync has no place for (adminClusterPair,
transformSpecs, Stork's storage options, ...) is left out and named on standard error, with what
to do instead; an object of another kind is left out and named too. Converting volsync's own
manifests changes nothing, so the output can be converted again.`,
		Example: `  volsyncctl convert -f stork-export.yaml > volsync.yaml
  kubectl get migrationschedules,schedulepolicies -o yaml --context stork | volsyncctl convert -f - | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := a.opts.OutputFormat()
			if err != nil {
				return err
			}
			data, err := readInput(file, cmd.InOrStdin())
			if err != nil {
				return err
			}
			res, err := convert.Convert(data)
			if err != nil {
				return cli.Hint(fmt.Errorf("%s: %w", file, err), "pass a file of Stork manifests, such as 'kubectl get migrationschedules -o yaml' prints")
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			for i, o := range res.Objects {
				if format == cli.OutputJSON {
					b, err := json.MarshalIndent(o.Object, "", "  ")
					if err != nil {
						return err
					}
					fmt.Fprintln(a.out, string(b))
					continue
				}
				b, err := yaml.Marshal(o.Object)
				if err != nil {
					return err
				}
				if i > 0 {
					fmt.Fprintln(a.out, "---")
				}
				fmt.Fprint(a.out, string(b))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the file of Stork manifests (YAML or JSON; - for standard input)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// readInput reads file, or in for "-".
func readInput(file string, in io.Reader) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(in)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, cli.Hint(err, "pass -f FILE, or -f - to read standard input")
	}
	return data, nil
}
