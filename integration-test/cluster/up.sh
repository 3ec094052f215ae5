#!/usr/bin/env bash
# Brings up the single-node cluster behind `make cluster-up`: builds what is missing (cached), then
# starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler on the host, and
# containerd, kubelet and kube-proxy in the node's own network and mount namespaces, and waits for
# the node to be Ready. A second run while the cluster is up does nothing; `make cluster-down`
# undoes everything it did. CLUSTER=dr brings up a second cluster beside the default one (lib.sh).
#
#   CLUSTER_IMAGES   images to build and load besides pause (default "mover volsyncd"; add
#                    local-path for the rancher local-path StorageClass too; "" for none).
# Storage is the hostpath CSI driver with snapshots and clones (csi.sh), the default StorageClass
# and VolumeSnapshotClass "volsync-hostpath".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=integration-test/cluster/lib.sh
source "$here/lib.sh"
started=$SECONDS

[ "$(id -u)" -eq 0 ] || die "the cluster needs root (network and mount namespaces, cgroups)"

if running kube-apiserver && running kubelet && netns_exists "$NETNS"; then
  say "the cluster is already up; KUBECONFIG=$CLUSTER_KUBECONFIG"
  exit 0
fi
if [ -e "$CLUSTER_RUN" ] || netns_exists "$NETNS"; then
  say "a partial cluster is left over; taking it down first"
  bash "$here/down.sh"
fi

# --- what the node needs from Debian ------------------------------------------------------------
need=()
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null || need+=(iptables)
command -v umoci >/dev/null || need+=(umoci)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v ip >/dev/null || need+=(iproute2)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]} (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${LOW[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- builds (cached) ----------------------------------------------------------------------------
say "Kubernetes $K8S_VERSION binaries (built once into the cache)"
ASSETS=$(assets_dir)
images=$(bash "$here/images.sh" pause | tail -1)
for i in ${CLUSTER_IMAGES-mover volsyncd}; do
  bash "$here/images.sh" "$i" >/dev/null || echo "warning: the $i image did not build; the cluster comes up without it" >&2
done
build_done=$SECONDS

# --- state -------------------------------------------------------------------------------------
# From here on a failure shows the end of each log and takes down what was started, unless
# CLUSTER_KEEP_ON_FAILURE=1 leaves it for a look.
on_failure() {
  local rc=$? log
  trap - EXIT
  [ "$rc" -ne 0 ] || exit 0
  for log in "$LOGS"/*.log; do
    [ -s "$log" ] || continue
    echo "--- last lines of $(basename "$log") ---" >&2
    tail -n 8 "$log" >&2
  done
  if [ "${CLUSTER_KEEP_ON_FAILURE:-0}" = 1 ]; then
    echo "cluster-up failed; left as it is (make cluster-down removes it)" >&2
  else
    echo "cluster-up failed; taking down what was started" >&2
    bash "$here/down.sh" >&2 || true
  fi
  exit "$rc"
}
trap on_failure EXIT
mkdir -p "$CLUSTER_RUN" "$CLUSTER_STATE" "$LOGS"
bash "$here/pki.sh" "$PKI"
cp "$PKI/admin.kubeconfig" "$CLUSTER_KUBECONFIG"
kubectl() { "$ASSETS/kubectl" --kubeconfig "$CLUSTER_KUBECONFIG" "$@"; }

# Saved before kubelet first runs, so down.sh can put the host back as it was; a cluster already up
# saved them before its kubelet ran.
if [ ! -f "$SYSCTLS_SAVED" ]; then
  for s in "${SAVED_SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")"; done > "$SYSCTLS_SAVED"
fi

# --- network: the node's namespace, a veth pair to the host, routes to pods and Services --------
say "network namespace $NETNS ($NODE_IP), veth to the host ($HOST_IP)"
ip netns add "$NETNS"
ip link add "$VETH_HOST" type veth peer name "$VETH_NODE" netns "$NETNS"
ip addr add "$HOST_IP/24" dev "$VETH_HOST"
ip link set "$VETH_HOST" up
ip netns exec "$NETNS" ip addr add "$NODE_IP/24" dev "$VETH_NODE"
ip netns exec "$NETNS" ip link set "$VETH_NODE" up
ip netns exec "$NETNS" ip link set lo up
ip netns exec "$NETNS" ip route add default via "$HOST_IP"
# The API server reaches pods (webhooks, proxy) and the host reaches Services through the node.
ip route add "$POD_CIDR" via "$NODE_IP" dev "$VETH_HOST"
ip route add "$SERVICE_CIDR" via "$NODE_IP" dev "$VETH_HOST"
ip netns exec "$NETNS" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$NETNS" sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
# Pods of another cluster up here reach this one's Services, and the other way round.
forward_between

# --- mount namespace: the node's mounts stay inside it -----------------------------------------
# The namespace is kept by a bind mount of its handle, which needs a private mount to live on.
say "mount namespace for containerd and kubelet"
mkdir -p "$CLUSTER_RUN/ns"
mount --bind "$CLUSTER_RUN/ns" "$CLUSTER_RUN/ns"
mount --make-private "$CLUSTER_RUN/ns"
touch "$MNTNS"
# Well-known paths the node's programs use are bind-mounted from the state directory inside the
# namespace; a mount point missing on the host is created and recorded so the last cluster down
# removes it.
node_dirs=(/var/lib/kubelet /var/lib/containerd /var/lib/cni /var/log/pods /var/log/containers
  /etc/cni/net.d /run/containerd /run/netns /opt/local-path-provisioner /var/lib/volsync-hostpath)
binds=""
for d in "${node_dirs[@]}"; do
  if [ ! -e "$d" ]; then
    p=$d
    while [ ! -e "$(dirname "$p")" ]; do p=$(dirname "$p"); done
    mkdir -p "$d"
    echo "$p" >> "$CREATED_DIRS"
  fi
  src=$CLUSTER_STATE/node$d
  mkdir -p "$src"
  binds+="mount --bind '$src' '$d'; "
done
nsenter --net="/run/netns/$NETNS" unshare --mount="$MNTNS" --propagation private \
  sh -c "mount --make-rshared / && $binds true"

# --- CNI ---------------------------------------------------------------------------------------
cat > "$CLUSTER_STATE/node/etc/cni/net.d/10-volsync.conflist" <<CNI
{
  "cniVersion": "1.0.0",
  "name": "volsync",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$POD_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI

# --- containerd --------------------------------------------------------------------------------
snapshotter=overlayfs
probe=$CLUSTER_STATE/node/var/lib/containerd/overlay-probe
mkdir -p "$probe"/{l,u,w,m}
if in_node mount -t overlay overlay -o "lowerdir=$probe/l,upperdir=$probe/u,workdir=$probe/w" "$probe/m" 2>/dev/null; then
  in_node umount "$probe/m"
else
  echo "warning: overlay mounts fail here; containerd uses the native snapshotter (slower)" >&2
  snapshotter=native
fi
rm -rf "$probe"
cat > "$CLUSTER_STATE/containerd.toml" <<TOML
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Processes here lack CAP_SYS_RESOURCE: without this every pod sandbox fails with
  # "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$snapshotter"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
TOML

# --- control plane on the host -----------------------------------------------------------------
say "etcd and kube-apiserver"
mkdir -p "$CLUSTER_STATE/etcd"
start etcd "$ASSETS/etcd" --name "$CLUSTER_NAME" --data-dir "$CLUSTER_STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "$CLUSTER_NAME=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync
start kube-apiserver "$ASSETS/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address "$HOST_IP" --advertise-address "$HOST_IP" --secure-port "$APISERVER_PORT" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --allow-privileged=true --profiling=false
wait_until 120 "kube-apiserver to be ready" kubectl get --raw /readyz

say "kube-controller-manager and kube-scheduler"
start kube-controller-manager "$ASSETS/kube-controller-manager" \
  --kubeconfig "$PKI/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$PKI/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$PKI/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$CONTROLLER_MANAGER_PORT" --leader-elect=false \
  --use-service-account-credentials \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --allocate-node-cidrs --cluster-cidr "$POD_CIDR" --node-cidr-mask-size 24
start kube-scheduler "$ASSETS/kube-scheduler" \
  --kubeconfig "$PKI/scheduler.kubeconfig" \
  --authentication-kubeconfig "$PKI/scheduler.kubeconfig" \
  --authorization-kubeconfig "$PKI/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --leader-elect=false

# --- the node ----------------------------------------------------------------------------------
say "containerd ($snapshotter) in the node"
mkdir -p "$CLUSTER_RUN/containerd"
start containerd "${NODE_ENTER[@]}" containerd --config "$CLUSTER_STATE/containerd.toml"
wait_until 60 "containerd" in_node ctr --address "$CONTAINERD_SOCK" version
for tar in "$images"/*.tar; do
  case "$(basename "$tar")" in
    pause.tar) base=${PAUSE_IMAGE%:*} ;;
    mover.tar) base=$MOVER_IMAGE_BASE ;;
    volsyncd.tar) base=$VOLSYNCD_IMAGE_BASE ;;
    local-path.tar) base=${LOCAL_PATH_IMAGE%:*} ;;
    *) continue ;;
  esac
  say "loading $base"
  in_node ctr --address "$CONTAINERD_SOCK" -n k8s.io images import --base-name "$base" "$tar" >/dev/null
  # deploy.sh loads an image again only when it was rebuilt since.
  cp "${tar%.tar}.hash" "$CLUSTER_STATE/loaded-$(basename "${tar%.tar}").hash" 2>/dev/null || true
done

say "kubelet and kube-proxy in the node"
# kubelet wants its cgroupRoot to be there; its pods' cgroups go under it (see CGROUP_ROOT).
if [ "$CGROUP_ROOT" != / ]; then
  for h in /sys/fs/cgroup/*/; do
    [ -f "$h/cgroup.procs" ] || continue
    mkdir -p "$h${CGROUP_ROOT#/}"
    # A new cpuset cgroup has no CPUs and no memory nodes until it is given its parent's.
    if [ -f "$h${CGROUP_ROOT#/}/cpuset.cpus" ] && [ -z "$(cat "$h${CGROUP_ROOT#/}/cpuset.cpus")" ]; then
      cat "$h/cpuset.cpus" > "$h${CGROUP_ROOT#/}/cpuset.cpus"
      cat "$h/cpuset.mems" > "$h${CGROUP_ROOT#/}/cpuset.mems"
    fi
  done
fi
# The host's nameserver is not reachable from the node's namespace: pods with dnsPolicy Default get
# a resolv.conf without a nameserver, so a lookup fails at once instead of timing out. The others
# get the cluster DNS (dns.sh).
echo "# no nameserver: the node has no upstream resolver" > "$CLUSTER_STATE/resolv.conf"
cat > "$CLUSTER_STATE/kubelet.yaml" <<KUBELET
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
# This host is cgroup v1 without systemd and with swap allowed.
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
failSwapOn: false
failCgroupV1: false
clusterDomain: cluster.local
clusterDNS: [$CLUSTER_DNS_IP]
resolvConf: $CLUSTER_STATE/resolv.conf
healthzBindAddress: 127.0.0.1
# The disk is shared with builds: do not evict pods for it.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
KUBELET
start kubelet "${NODE_ENTER[@]}" "$ASSETS/kubelet" --config "$CLUSTER_STATE/kubelet.yaml" \
  --kubeconfig "$PKI/kubelet.kubeconfig" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"

cat > "$CLUSTER_STATE/kube-proxy.yaml" <<PROXY
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
nodePortAddresses: [$NODE_IP/32]
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# nf_conntrack_max is not per namespace: leave the host's alone.
conntrack: {maxPerCore: 0}
PROXY
start kube-proxy "${NODE_ENTER[@]}" "$ASSETS/kube-proxy" --config "$CLUSTER_STATE/kube-proxy.yaml"

say "waiting for the node to be Ready"
wait_until 180 "node $NODE_NAME to be Ready" \
  kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=5s
wait_until 60 "the default ServiceAccount" kubectl get serviceaccount default
bash "$here/csi.sh"
bash "$here/dns.sh"
case " ${CLUSTER_IMAGES-} " in
  *" local-path "*) bash "$here/storage.sh" ;;
esac

trap - EXIT
say "cluster up in $((SECONDS - started))s (builds $((build_done - started))s)"
echo "export KUBECONFIG=$CLUSTER_KUBECONFIG"
