#!/usr/bin/env bash
# Checks the running single-node cluster end to end (`make cluster-smoke`): the node is Ready, a pod
# of the pause image runs, and, when the mover image is loaded, a mover pod runs `rsync --version` to
# completion, a Service reaches an rsync daemon in another pod through kube-proxy, cluster DNS
# answers, and a claim of the default StorageClass is provisioned, written, snapshotted, restored
# from the snapshot and read. When another cluster is up beside this one (CLUSTER, lib.sh), a pod
# here also reaches a Service of the other cluster and the other's API server.
set -euo pipefail
# shellcheck source=integration-test/cluster/lib.sh
source "$(dirname "$0")/lib.sh"
# The mover image of the last build (images.sh tags it with the version).
MOVER_IMAGE=volsync-mover:$(built_tag mover)
ns=volsync-smoke
# The namespace the check across clusters makes in the other cluster, and that cluster's kubeconfig.
peer_ns=volsync-smoke-peer
peer_kubeconfig=""
peer_kubectl() { CLUSTER_KUBECONFIG=$peer_kubeconfig kubectl "$@"; }
cleanup() {
  kubectl delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  if [ -n "$peer_kubeconfig" ]; then
    peer_kubectl delete namespace "$peer_ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# fresh_namespace KUBECTL NS: NS with its default ServiceAccount, once the NS of an earlier run
# (deleted without waiting) is gone.
fresh_namespace() {
  local k=$1 n=$2
  "$k" wait --for=delete "namespace/$n" --timeout=120s >/dev/null 2>&1 || true
  "$k" create namespace "$n" --dry-run=client -o yaml | "$k" apply -f - >/dev/null
  until "$k" -n "$n" get serviceaccount default >/dev/null 2>&1; do sleep 1; done
}

kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=60s
fresh_namespace kubectl "$ns"

say "a pod of the pause image"
kubectl -n "$ns" apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata: {name: pause}
spec:
  containers:
  - {name: pause, image: $PAUSE_IMAGE, imagePullPolicy: Never}
YAML
kubectl -n "$ns" wait --for=condition=Ready pod/pause --timeout=120s

mover_loaded=$(in_node ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q | grep -c volsync-mover || true)
if [ "$mover_loaded" -eq 0 ]; then
  say "the mover image is not loaded (make cluster-images, then make cluster-down cluster-up): skipping the rest"
  exit 0
fi

say "a mover pod running rsync --version to completion"
kubectl -n "$ns" apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata: {name: rsync-version}
spec:
  restartPolicy: Never
  containers:
  - {name: rsync, image: $MOVER_IMAGE, imagePullPolicy: Never, command: [rsync, --version]}
YAML
kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/rsync-version --timeout=120s
rsync_said() { kubectl -n "$ns" logs rsync-version | grep '^rsync  version'; }
wait_until 30 "the output of rsync --version" rsync_said
rsync_said

say "a Service in front of an rsync daemon, reached from another pod"
# rsyncd_yaml: a pod serving /data/hello with an rsync daemon, and a Service in front of it.
rsyncd_yaml() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: rsyncd, labels: {app: rsyncd}}
spec:
  securityContext: {runAsUser: 0}
  containers:
  - name: rsyncd
    image: $MOVER_IMAGE
    imagePullPolicy: Never
    command: [sh, -c, 'mkdir -p /data && echo hello > /data/hello && printf "reverse lookup = no\\n[data]\\npath = /data\\nread only = yes\\nuid = root\\ngid = root\\n" > /etc/rsyncd.conf && exec rsync --daemon --no-detach --port 873']
    readinessProbe: {tcpSocket: {port: 873}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: rsyncd}
spec:
  selector: {app: rsyncd}
  ports: [{port: 873, targetPort: 873}]
YAML
}
rsyncd_yaml | kubectl -n "$ns" apply -f -
kubectl -n "$ns" wait --for=condition=Ready pod/rsyncd --timeout=120s
ip=$(kubectl -n "$ns" get service rsyncd -o jsonpath='{.spec.clusterIP}')
kubectl -n "$ns" apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata: {name: rsync-client}
spec:
  restartPolicy: Never
  containers:
  - {name: rsync, image: $MOVER_IMAGE, imagePullPolicy: Never, command: [rsync, "rsync://$ip/data/hello", /tmp/hello]}
YAML
kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/rsync-client --timeout=120s

say "cluster DNS: a pod finds the API server's Service by name"
kubectl -n "$ns" apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata: {name: dns}
spec:
  restartPolicy: Never
  containers:
  - {name: dns, image: $MOVER_IMAGE, imagePullPolicy: Never, command: [getent, hosts, kubernetes.default.svc.cluster.local]}
YAML
kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/dns --timeout=120s

say "a PersistentVolumeClaim of the default StorageClass, written, snapshotted, restored and read back"
kubectl -n "$ns" apply -f - <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  restartPolicy: Never
  securityContext: {runAsUser: 0}
  containers:
  - name: writer
    image: $MOVER_IMAGE
    imagePullPolicy: Never
    command: [sh, -c, 'echo hello > /data/hello && test "\$(cat /data/hello)" = hello']
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
YAML
kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/writer --timeout=120s
kubectl -n "$ns" apply -f - <<'YAML'
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: data}
spec:
  source: {persistentVolumeClaimName: data}
YAML
kubectl -n "$ns" wait --for=jsonpath='{.status.readyToUse}'=true volumesnapshot/data --timeout=120s
kubectl -n "$ns" apply -f - <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: restored}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: data}
---
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  restartPolicy: Never
  containers:
  - name: reader
    image: $MOVER_IMAGE
    imagePullPolicy: Never
    command: [sh, -c, 'test "\$(cat /data/hello)" = hello']
    volumeMounts: [{name: data, mountPath: /data, readOnly: true}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: restored}}]
YAML
kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/reader --timeout=120s

# --- across clusters ---------------------------------------------------------------------------
# What a mover here needs to reach an rsync-tls Service of the other cluster, and volsyncd here to
# use the other's API server through a kubeconfig: the host forwards between the two nodes, and
# the other's API server listens on its host address. The pod checks the API server's certificate
# against the other cluster's CA, for its address.
# shellcheck disable=SC2016
peer_check='set -e
rsync "rsync://$PEER_SERVICE/data/hello" /tmp/hello
echo "rsync://$PEER_SERVICE/data/hello: $(cat /tmp/hello)"
test "$(cat /tmp/hello)" = hello
answer=$(printf "GET /readyz HTTP/1.0\r\n\r\n" | openssl s_client -quiet -verify_return_error \
  -CAfile /peer/ca.crt -verify_ip "$PEER_HOST" -connect "$PEER_HOST:$PEER_PORT" 2>/dev/null)
echo "https://$PEER_HOST:$PEER_PORT/readyz (certificate verified): $(echo "$answer" | tail -n 1)"
test "$(echo "$answer" | tail -n 1)" = ok'
for peer in "${CLUSTERS[@]}"; do
  [ "$peer" != "$CLUSTER" ] || continue
  peer_name=${peer:-default}
  peer_host=$(setting_of "$peer" HOST_IP)
  peer_port=$(setting_of "$peer" APISERVER_PORT)
  peer_kubeconfig=$(setting_of "$peer" CLUSTER_KUBECONFIG)
  if ! ip link show "$(setting_of "$peer" VETH_HOST)" >/dev/null 2>&1 || [ ! -f "$peer_kubeconfig" ] ||
    ! peer_kubectl get --raw /readyz --request-timeout=5s >/dev/null 2>&1; then
    say "the $peer_name cluster is not up: skipping the check across clusters"
    peer_kubeconfig=""
    continue
  fi
  say "across clusters: a pod here reaches a Service and the API server of the $peer_name cluster"
  fresh_namespace peer_kubectl "$peer_ns"
  rsyncd_yaml | peer_kubectl -n "$peer_ns" apply -f -
  peer_kubectl -n "$peer_ns" wait --for=condition=Ready pod/rsyncd --timeout=120s
  peer_ip=$(peer_kubectl -n "$peer_ns" get service rsyncd -o jsonpath='{.spec.clusterIP}')
  kubectl -n "$ns" create configmap peer --from-literal=check.sh="$peer_check" \
    --from-literal=ca.crt="$(peer_kubectl config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d)"
  kubectl -n "$ns" apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata: {name: peer-client}
spec:
  restartPolicy: Never
  containers:
  - name: client
    image: $MOVER_IMAGE
    imagePullPolicy: Never
    command: [sh, /peer/check.sh]
    env:
    - {name: PEER_SERVICE, value: "$peer_ip"}
    - {name: PEER_HOST, value: "$peer_host"}
    - {name: PEER_PORT, value: "$peer_port"}
    volumeMounts: [{name: peer, mountPath: /peer, readOnly: true}]
  volumes: [{name: peer, configMap: {name: peer}}]
YAML
  if ! kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/peer-client --timeout=120s; then
    kubectl -n "$ns" logs peer-client >&2 || true
    die "a pod of this cluster did not reach the $peer_name cluster (its Service $peer_ip, its API server $peer_host:$peer_port)"
  fi
  kubectl -n "$ns" logs peer-client
done
say "smoke test passed"
