#!/usr/bin/env bash
# `make check-chart`: fails when helm/volsync differs from what `make chart` makes of specs/, then
# lints the chart (helm at a pinned version, hack/helm.sh) with its default values and with
# ci/all-values.yaml, which sets every value. What the rendered chart holds is checked by
# integration-test/chart (go test), against specs/.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash hack/chart.sh "$work"
if ! diff -r helm/volsync/files "$work/files" >&2; then
  echo "helm/volsync/files differs from specs/: run 'make chart' and commit" >&2
  exit 1
fi
helm="$(bash hack/helm.sh | tail -1)/helm"
"$helm" lint --strict --quiet helm/volsync
"$helm" lint --strict --quiet helm/volsync -f helm/volsync/ci/all-values.yaml
