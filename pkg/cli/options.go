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
)

// OutputFormats lists the accepted --output values, for help texts and completion.
var OutputFormats = []OutputFormat{OutputTable, OutputYAML, OutputJSON}

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
	fs.StringVarP(&o.Output, "output", "o", string(OutputTable), "output format: table, yaml or json")
}

// OutputFormat returns the parsed --output value, or an error that lists the accepted ones.
func (o *GlobalOptions) OutputFormat() (OutputFormat, error) {
	f := OutputFormat(strings.ToLower(strings.TrimSpace(o.Output)))
	for _, known := range OutputFormats {
		if f == known {
			return f, nil
		}
	}
	return "", fmt.Errorf("--output %q is not supported: use table, yaml or json", o.Output)
}
