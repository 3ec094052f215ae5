#!/usr/bin/env bash
# Checks the alerts of specs/prometheus/rules.yaml with promtool (hack/promtool.sh): the rule groups
# are taken from the PrometheusRule's .spec into a temporary plain rules file, which `promtool
# check rules` validates and `promtool test rules` runs the cases of rules_test.yaml against.
set -euo pipefail
cd "$(dirname "$0")/.."
promtool="$(bash hack/promtool.sh | tail -1)/promtool"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go run ./hack/promrules specs/prometheus/rules.yaml > "$work/rules.generated.yaml"
cp specs/prometheus/rules_test.yaml "$work/"
"$promtool" check rules "$work/rules.generated.yaml"
(cd "$work" && "$promtool" test rules rules_test.yaml)
