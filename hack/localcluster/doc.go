// Command localcluster runs a throwaway Kubernetes control plane (etcd and kube-apiserver, no
// nodes) for the demo and for trying volsyncd by hand. It installs the volsync CRDs, writes an
// admin kubeconfig, and runs until SIGINT or SIGTERM, then stops both processes and removes their
// data.
//
//	go run ./hack/localcluster --kubeconfig /tmp/volsync.kubeconfig --assets "$(bash hack/envtest-assets.sh | tail -1)"
package main
