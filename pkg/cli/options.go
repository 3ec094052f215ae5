package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// OutputFormat is a value of --output.
type OutputFormat string

// The output formats every command supports.
const (
	OutputTable OutputFormat = "table"
	OutputYAML  OutputFormat = "yaml"
	OutputJSON  OutputFormat = "json"
	// OutputWide is the table with more columns. OutputFormat reports it as OutputTable, so
	// that every command prints its table for it; the get commands ask Wide for the extra columns.
	OutputWide OutputFormat = "wide"
)

// OutputFormats lists the accepted --output values, for help texts and completion.
var OutputFormats = []OutputFormat{OutputTable, OutputWide, OutputYAML, OutputJSON}

// GlobalOptions are the flags every volsyncctl command takes.
type GlobalOptions struct {
	// Kubeconfig is the path of the kubeconfig; empty means $KUBECONFIG, then ~/.kube/config.
	Kubeconfig string
	// Context is the kubeconfig context; empty means the current one.
	Context string
	// Namespace overrides the context's namespace.
	Namespace string
	// Output is table, yaml or json.
	Output string
}

// AddFlags registers the global flags on fs (the root command's persistent flags).
func (o *GlobalOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file; default $KUBECONFIG, then ~/.kube/config")
	fs.StringVar(&o.Context, "context", "", "kubeconfig context to use; default the current context")
	fs.StringVarP(&o.Namespace, "namespace", "n", "", "namespace to work in; default the context's namespace, else \"default\"")
	fs.StringVarP(&o.Output, "output", "o", string(OutputTable), "output format: table, wide, yaml or json")
}

// OutputFormat returns the parsed --output value, or an error that lists the accepted ones. wide
// is returned as OutputTable; Wide tells it apart.
func (o *GlobalOptions) OutputFormat() (OutputFormat, error) {
	f := OutputFormat(strings.ToLower(strings.TrimSpace(o.Output)))
	for _, known := range OutputFormats {
		if f == known {
			if f == OutputWide {
				return OutputTable, nil
			}
			return f, nil
		}
	}
	return "", fmt.Errorf("--output %q is not supported: use table, wide, yaml or json", o.Output)
}

// Wide says whether --output is wide: the table with the extra columns of the get commands.
func (o *GlobalOptions) Wide() bool {
	return OutputFormat(strings.ToLower(strings.TrimSpace(o.Output))) == OutputWide
}
