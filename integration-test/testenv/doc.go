// Package testenv starts a real etcd and kube-apiserver with the volsync CRDs installed, for the
// admission and controller suites. The binaries come from hack/envtest-assets.sh, which builds them
// from the Go module proxy and caches them outside the repository; KUBEBUILDER_ASSETS may point at
// them directly.
package testenv
