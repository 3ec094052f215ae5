#!/usr/bin/env bash
# Cluster DNS for the single-node cluster: CoreDNS (pinned, built once from the Go module proxy)
# serving cluster.local from the API server, as a node process beside kubelet listening on the
# node's address, behind the usual kube-dns Service at $CLUSTER_DNS_IP (a Service without a selector
# whose EndpointSlice names the node). kubelet gives pods that address (up.sh). Names outside the
# cluster are not resolved: the node has no upstream resolver, so such lookups fail at once.
# Called by up.sh; safe to rerun while the cluster is up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=integration-test/cluster/lib.sh
source "$here/lib.sh"

coredns=$CLUSTER_CACHE/bin/coredns-$COREDNS_VERSION
if [ ! -x "$coredns" ]; then
  say "building CoreDNS $COREDNS_VERSION (once; several minutes)"
  dir=$(GOFLAGS='' GOWORK=off go mod download -json "github.com/coredns/coredns@$COREDNS_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] || die "could not download CoreDNS $COREDNS_VERSION from the Go module proxy"
  mkdir -p "$(dirname "$coredns")"
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off GOTOOLCHAIN=local GOMAXPROCS=2 "${LOW[@]}" \
    go build -trimpath -ldflags "-s -w" -o "$coredns.tmp" .)
  mv "$coredns.tmp" "$coredns"
fi

cat > "$CLUSTER_STATE/Corefile" <<COREFILE
.:53 {
    bind $NODE_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $PKI/admin.kubeconfig $CLUSTER_NAME
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
}
COREFILE
running coredns || start coredns "${NODE_ENTER[@]}" "$coredns" -conf "$CLUSTER_STATE/Corefile"

kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  clusterIP: $CLUSTER_DNS_IP
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-node
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns}
addressType: IPv4
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
endpoints:
- addresses: ["$NODE_IP"]
  conditions: {ready: true}
YAML

answers() {
  in_node bash -c "exec 3<>/dev/tcp/$NODE_IP/53" 2>/dev/null
}
STARTED=(coredns)
wait_until 60 "CoreDNS to listen on $NODE_IP:53" answers
say "cluster DNS at $CLUSTER_DNS_IP (CoreDNS $COREDNS_VERSION)"
