// Package testenv is the harness the integration suites share. It starts a real etcd and
// kube-apiserver with the volsync CRDs installed, for the admission and controller suites; the
// binaries come from hack/envtest-assets.sh, which builds them from the Go module proxy and caches
// them outside the repository (KUBEBUILDER_ASSETS may point at them directly). It also starts a
// real S3 server (versitygw, from hack/mover-tools.sh) for the data-plane and end-to-end tests of
// the restic and rclone movers, and holds the polling and process helpers those suites have in
// common.
package testenv
