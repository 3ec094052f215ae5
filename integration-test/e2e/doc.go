// Package e2e runs volsync end to end on a real cluster: volsyncd deployed from specs/, movers as
// real pods on a real node, volumes and snapshots of a real CSI driver, data checked by checksum
// from pods that mount the copies. `make e2e` brings up the single-node cluster
// (integration-test/cluster), deploys volsyncd and runs these tests against it; without
// VOLSYNC_E2E_KUBECONFIG they are skipped, so `go test ./...` stays a unit and envtest run.
package e2e
