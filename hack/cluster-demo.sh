#!/usr/bin/env bash
# The demo behind `make demo`: volsync on a real single-node Kubernetes on this machine, as a user
# would run it. It brings the cluster up (integration-test/cluster; builds everything on first
# use), deploys volsyncd from specs/, and then, in namespace demo-app:
#   - a SchedulePolicy (every minute, and nightly), made with volsyncctl;
#   - an application writing to its volume;
#   - a ReplicationDestination (rsync over TLS, a VolumeSnapshot per sync) in demo-dr and a
#     ReplicationSource on the policy;
#   - a ClusterPair back to this same cluster and a MigrationSchedule on the policy that migrates
#     demo-app, volumes included, as demo-app-dr;
# shows progress until the first synced snapshot and the first finished migration, and ends with
# `volsyncctl get schedulepolicy` and `kubectl describe migrationschedules`. The cluster stays up to
# look around (KUBECONFIG is printed); `make cluster-down` removes it. Needs root.
#
#   DEMO_TIMEOUT   seconds to wait for the first snapshot and the first migration (default 600)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=integration-test/cluster/lib.sh
source integration-test/cluster/lib.sh

timeout=${DEMO_TIMEOUT:-600}
started=$SECONDS
banner() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

banner "the single-node cluster (the first run builds Kubernetes, images and storage: see README)"
bash integration-test/cluster/up.sh
banner "volsyncd from specs/ (kubectl apply -k specs)"
bash integration-test/cluster/deploy.sh
# The app runs the mover image of this build (it has a shell); images.sh tags it with the version.
MOVER_IMAGE=volsync-mover:$(built_tag mover)
kubectl="$(bash hack/envtest-assets.sh kubectl | tail -1)/kubectl"
export KUBECONFIG=$CLUSTER_KUBECONFIG
volsyncctl=bin/volsyncctl
k() { "$kubectl" "$@"; }

# A rerun starts the scenario afresh; the cluster and volsyncd stay.
if k get namespace demo-app >/dev/null 2>&1 || k get namespace demo-dr >/dev/null 2>&1 || k get namespace demo-app-dr >/dev/null 2>&1 || k get namespace demo-app-dr-drill >/dev/null 2>&1; then
  banner "removing the previous run's namespaces"
  k delete migrationschedules --all -n demo-app --wait=true --timeout=120s >/dev/null 2>&1 || true
  k delete namespace demo-app demo-dr demo-app-dr demo-app-dr-drill --ignore-not-found --wait=true --timeout=180s >/dev/null
fi
"$volsyncctl" delete schedulepolicy demo-every-minute >/dev/null 2>&1 || true

banner "a SchedulePolicy: every minute (keep 3) and nightly at 11:30PM (keep 7)"
"$volsyncctl" create schedulepolicy demo-every-minute --interval 1 --daily 11:30PM --retain interval=3 --retain daily=7
"$volsyncctl" preview schedulepolicy demo-every-minute --count 3

banner "the application: a Deployment in demo-app that writes to its volume every 5 seconds"
k apply -f - <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: demo-app}
---
apiVersion: v1
kind: Namespace
metadata: {name: demo-dr}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: app-data, namespace: demo-app}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: demo-app}
spec:
  replicas: 1
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      securityContext: {runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000}
      containers:
      - name: app
        image: $MOVER_IMAGE
        imagePullPolicy: IfNotPresent
        command: [sh, -c, 'mkdir -p /data/orders; while true; do date -u +%FT%TZ >> /data/orders/log; head -c 4096 /dev/urandom > /data/orders/blob-\$(date +%s); sleep 5; done']
        volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: app-data}}]
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: demo-app}
spec:
  selector: {app: demo}
  ports: [{port: 80, targetPort: 8080}]
YAML
k -n demo-app rollout status deployment/app --timeout=180s

banner "a ReplicationDestination in demo-dr: rsync over TLS, a VolumeSnapshot of every sync"
k apply -f - <<'YAML'
apiVersion: volsync.backube/v1alpha1
kind: ReplicationDestination
metadata: {name: app-data, namespace: demo-dr}
spec:
  rsyncTLS:
    copyMethod: Snapshot
    capacity: 1Gi
    accessModes: [ReadWriteOnce]
    serviceType: ClusterIP
    moverSecurityContext: {runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000}
YAML
printf 'waiting for its address and key'
until addr=$(k -n demo-dr get replicationdestination app-data -o jsonpath='{.status.rsyncTLS.address}') && [ -n "$addr" ]; do
  printf .; sleep 2
done
key=$(k -n demo-dr get replicationdestination app-data -o jsonpath='{.status.rsyncTLS.keySecret}')
echo " $addr, Secret $key"
# The source needs the same pre-shared key, in its own namespace.
k -n demo-dr get secret "$key" -o json \
  | sed -e 's/"namespace": "demo-dr"/"namespace": "demo-app"/' -e '/"ownerReferences"/,/\]/d' -e '/"uid"/d' -e '/"resourceVersion"/d' -e '/"creationTimestamp"/d' \
  | k apply -f - >/dev/null

banner "a ReplicationSource in demo-app on the policy (a clone of the live volume each time)"
k apply -f - <<YAML
apiVersion: volsync.backube/v1alpha1
kind: ReplicationSource
metadata: {name: app-data, namespace: demo-app}
spec:
  sourcePVC: app-data
  trigger: {schedulePolicyName: demo-every-minute}
  rsyncTLS:
    copyMethod: Clone
    address: $addr
    keySecret: $key
    moverSecurityContext: {runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000}
YAML

banner "a ClusterPair back to this cluster and a MigrationSchedule on the policy (demo-app -> demo-app-dr)"
"$volsyncctl" generate clusterpair local --context volsync -n demo-app | k apply -f - >/dev/null
k -n demo-app patch clusterpair local --type merge -p '{"spec":{"options":{"volumeServiceType":"ClusterIP"}}}' >/dev/null
"$volsyncctl" create migrationschedule app-dr -n demo-app --cluster-pair local --namespaces demo-app \
  --namespace-mapping demo-app=demo-app-dr --include-volumes --auto-suspend --schedule-policy demo-every-minute

banner "progress (until the first synced snapshot and the first finished migration; at most ${timeout}s)"
deadline=$((SECONDS + timeout))
image="" migrated=""
while [ -z "$image" ] || [ -z "$migrated" ]; do
  image=$(k -n demo-dr get replicationdestination app-data -o jsonpath='{.status.latestImage.name}' 2>/dev/null || true)
  migrated=$(k -n demo-app get migrations -o jsonpath='{range .items[?(@.status.status=="Successful")]}{.metadata.name}{"\n"}{end}' 2>/dev/null | head -1)
  sync=$(k -n demo-app get replicationsyncs -o jsonpath='{range .items[*]}{.metadata.name}={.status.status} {end}' 2>/dev/null || true)
  mig=$(k -n demo-app get migrations -o jsonpath='{range .items[*]}{.metadata.name}={.status.stage}/{.status.status} {end}' 2>/dev/null || true)
  printf '%s  syncs: %s  snapshot: %s  migrations: %s\n' "$(date -u +%T)" "${sync:-none yet}" "${image:-none yet}" "${mig:-none yet}"
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "error: no synced snapshot and finished migration within ${timeout}s" >&2
    k -n demo-app get events --sort-by=.lastTimestamp | tail -20 >&2
    exit 1
  fi
  [ -n "$image" ] && [ -n "$migrated" ] || sleep 5
done

banner "the first synced snapshot"
k -n demo-dr get volumesnapshot "$image"
banner "what the migration made in demo-app-dr (Deployment at 0 replicas until activated)"
k -n demo-app-dr get deployments,services,pvc
banner "volsyncctl get schedulepolicy"
"$volsyncctl" get schedulepolicy
banner "kubectl describe migrationschedules -n demo-app"
k -n demo-app describe migrationschedules

banner "a ClusterPair in demo-app-dr back to this cluster, for a failback"
"$volsyncctl" generate clusterpair back --context volsync -n demo-app-dr | k apply -f - >/dev/null
k -n demo-app-dr patch clusterpair back --type merge -p '{"spec":{"options":{"volumeServiceType":"ClusterIP"}}}' >/dev/null

banner "a disaster-recovery drill: the copy started in a scratch namespace, its recovery point and time"
"$volsyncctl" perform drill -m app-dr -n demo-app --timeout 10m

banner "done in $((SECONDS - started))s; the cluster is still up"
cat <<EOF
  export KUBECONFIG=$CLUSTER_KUBECONFIG
  $volsyncctl get migration -n demo-app
  $volsyncctl perform failover -m app-dr -n demo-app                              # start the copy; the schedule suspends itself
  $volsyncctl perform failback -m app-dr -n demo-app --reverse-clusterpair back  # the data back, the source running again
  make cluster-down                                                               # remove everything
EOF
