package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// prometheusRule is the part of a monitoring.coreos.com/v1 PrometheusRule that promtool reads:
// spec is a rules file as it stands.
type prometheusRule struct {
	Kind string         `json:"kind"`
	Spec map[string]any `json:"spec"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: promrules PROMETHEUSRULE.yaml")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "promrules:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var pr prometheusRule
	if err := yaml.Unmarshal(data, &pr); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if pr.Kind != "PrometheusRule" {
		return fmt.Errorf("%s: kind %q, want PrometheusRule", path, pr.Kind)
	}
	if _, ok := pr.Spec["groups"]; !ok {
		return fmt.Errorf("%s: spec.groups is missing", path)
	}
	out, err := yaml.Marshal(pr.Spec)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}
