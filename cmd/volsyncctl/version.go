package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/volsync/volsync/pkg/cli"
	"github.com/volsync/volsync/pkg/version"
)

// serverVersionTimeout bounds the server probe: `version` must answer quickly even when the
// cluster is down.
const serverVersionTimeout = 5 * time.Second

// versionReport is what `volsyncctl version -o yaml|json` prints.
type versionReport struct {
	ClientVersion version.Info `json:"clientVersion"`
	// ServerVersion is the Kubernetes API server's version, when it answered.
	ServerVersion string `json:"serverVersion,omitempty"`
	// ServerError says why there is no server version.
	ServerError string `json:"serverError,omitempty"`
}

func (a *app) versionCommand() *cobra.Command {
	clientOnly := false
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the volsyncctl version and, when the cluster answers, the Kubernetes server version",
		Long: `Print the version of volsyncctl and, when the cluster answers within 5 seconds, the version of
its Kubernetes API server. An unreachable cluster is reported, not treated as a failure.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			format, err := a.opts.OutputFormat()
			if err != nil {
				return err
			}
			r := versionReport{ClientVersion: version.Get()}
			if !clientOnly {
				r.ServerVersion, err = a.serverVersion()
				if err != nil {
					r.ServerError = err.Error()
				}
			}
			if format != cli.OutputTable {
				return cli.PrintData(a.out, format, r)
			}
			fmt.Fprintf(a.out, "Client Version: %s\n", r.ClientVersion)
			switch {
			case r.ServerVersion != "":
				fmt.Fprintf(a.out, "Server Version: %s\n", r.ServerVersion)
			case r.ServerError != "":
				fmt.Fprintf(a.out, "Server Version: unavailable (%s)\n", r.ServerError)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print the client version only, without contacting the cluster")
	return cmd
}

func (a *app) serverVersion() (string, error) {
	dc, err := a.opts.Discovery(serverVersionTimeout)
	if err != nil {
		return "", err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		cfg, cfgErr := a.opts.RESTConfig()
		host := "the configured address"
		if cfgErr == nil {
			host = cfg.Host
		}
		return "", cli.Explain(err, host)
	}
	return v.GitVersion, nil
}
