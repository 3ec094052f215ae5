// Command promrules prints the rule groups of a PrometheusRule manifest (its .spec) as the plain
// rules file that promtool reads, so that the alerts are written once, in the manifest that is
// applied, and the file promtool checks can never drift from it.
//
//	go run ./hack/promrules specs/prometheus/rules.yaml > rules.generated.yaml
package main
