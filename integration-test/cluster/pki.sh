#!/usr/bin/env bash
# Writes the cluster's certificates, service-account keys and kubeconfigs with openssl, once: a CA,
# the API server's serving certificate, a client certificate for each component, and a kubeconfig for
# admin, kube-controller-manager, kube-scheduler, kubelet and kube-proxy.
#
#   pki.sh DIR      writes into DIR (skips what already exists)
set -euo pipefail
# shellcheck source=integration-test/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

dir=${1:-$PKI}
mkdir -p "$dir"
cd "$dir"

if [ ! -f ca.crt ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
    -subj "/CN=$CLUSTER_NAME-cluster-ca" 2>/dev/null
fi
if [ ! -f sa.key ]; then
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
fi

# cert NAME SUBJECT [SANS]: a key and a certificate signed by the CA.
cert() {
  local name=$1 subj=$2 sans=${3:-} ext
  [ -f "$name.crt" ] && return 0
  ext=$(mktemp)
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$sans" ]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=$sans"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } > "$ext"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$name.crt" \
    -days 3650 -extfile "$ext" 2>/dev/null
  rm -f "$name.csr" "$ext"
}

cert apiserver "/CN=kube-apiserver" \
  "IP:$HOST_IP,IP:$KUBERNETES_SVC_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert admin "/O=system:masters/CN=volsync-admin"
cert controller-manager "/CN=system:kube-controller-manager"
cert scheduler "/CN=system:kube-scheduler"
cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
cert kubelet-serving "/CN=$NODE_NAME" "IP:$NODE_IP,DNS:$NODE_NAME"
cert kube-proxy "/CN=system:kube-proxy"

# kubeconfig NAME: NAME.kubeconfig using NAME's client certificate, embedded so the file stands alone.
kubeconfig() {
  local name=$1
  cat > "$name.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: $CLUSTER_NAME
  cluster:
    server: https://$HOST_IP:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 < ca.crt)
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 < "$name.crt")
    client-key-data: $(base64 -w0 < "$name.key")
contexts:
- name: $CLUSTER_NAME
  context:
    cluster: $CLUSTER_NAME
    user: $name
current-context: $CLUSTER_NAME
KC
  chmod 600 "$name.kubeconfig"
}
for n in admin controller-manager scheduler kubelet kube-proxy; do
  [ -f "$n.kubeconfig" ] || kubeconfig "$n"
done
chmod 600 ./*.key
