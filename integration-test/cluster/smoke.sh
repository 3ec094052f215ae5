#!/usr/bin/env bash
# Checks the running single-node cluster end to end (`make cluster-smoke`): the node is Ready, a pod
# of the pause image runs, and, when the mover image is loaded, a mover pod runs `rsync --version` to
# completion, a Service reaches an rsync daemon in another pod through kube-proxy, cluster DNS
# answers, and a claim of the default StorageClass is provisioned, written, snapshotted, restored
# from the snapshot and read.
set -euo pipefail
# shellcheck source=integration-test/cluster/lib.sh
source "$(dirname "$0")/lib.sh"
ns=volsync-smoke
cleanup() { kubectl delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT

kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=60s
kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
until kubectl -n "$ns" get serviceaccount default >/dev/null 2>&1; do sleep 1; done

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
kubectl -n "$ns" apply -f - <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: rsync-version}
spec:
  restartPolicy: Never
  containers:
  - {name: rsync, image: volsync-mover:latest, imagePullPolicy: Never, command: [rsync, --version]}
YAML
kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/rsync-version --timeout=120s
rsync_said() { kubectl -n "$ns" logs rsync-version | grep '^rsync  version'; }
wait_until 30 "the output of rsync --version" rsync_said
rsync_said

say "a Service in front of an rsync daemon, reached from another pod"
kubectl -n "$ns" apply -f - <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: rsyncd, labels: {app: rsyncd}}
spec:
  securityContext: {runAsUser: 0}
  containers:
  - name: rsyncd
    image: volsync-mover:latest
    imagePullPolicy: Never
    command: [sh, -c, 'mkdir -p /data && echo hello > /data/hello && printf "reverse lookup = no\n[data]\npath = /data\nread only = yes\nuid = root\ngid = root\n" > /etc/rsyncd.conf && exec rsync --daemon --no-detach --port 873']
    readinessProbe: {tcpSocket: {port: 873}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: rsyncd}
spec:
  selector: {app: rsyncd}
  ports: [{port: 873, targetPort: 873}]
YAML
kubectl -n "$ns" wait --for=condition=Ready pod/rsyncd --timeout=120s
ip=$(kubectl -n "$ns" get service rsyncd -o jsonpath='{.spec.clusterIP}')
kubectl -n "$ns" apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata: {name: rsync-client}
spec:
  restartPolicy: Never
  containers:
  - {name: rsync, image: volsync-mover:latest, imagePullPolicy: Never, command: [rsync, "rsync://$ip/data/hello", /tmp/hello]}
YAML
kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/rsync-client --timeout=120s

say "cluster DNS: a pod finds the API server's Service by name"
kubectl -n "$ns" apply -f - <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: dns}
spec:
  restartPolicy: Never
  containers:
  - {name: dns, image: volsync-mover:latest, imagePullPolicy: Never, command: [getent, hosts, kubernetes.default.svc.cluster.local]}
YAML
kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/dns --timeout=120s

say "a PersistentVolumeClaim of the default StorageClass, written, snapshotted, restored and read back"
kubectl -n "$ns" apply -f - <<'YAML'
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
    image: volsync-mover:latest
    imagePullPolicy: Never
    command: [sh, -c, 'echo hello > /data/hello && test "$(cat /data/hello)" = hello']
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
kubectl -n "$ns" apply -f - <<'YAML'
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
    image: volsync-mover:latest
    imagePullPolicy: Never
    command: [sh, -c, 'test "$(cat /data/hello)" = hello']
    volumeMounts: [{name: data, mountPath: /data, readOnly: true}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: restored}}]
YAML
kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/reader --timeout=120s
say "smoke test passed"
