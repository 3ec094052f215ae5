#!/usr/bin/env bash
# The local demo behind `make demo`: a throwaway control plane (etcd + kube-apiserver, no nodes),
# volsyncd running against it, the samples applied and shown. Everything it starts is stopped, and
# its temporary files removed, when it ends, whether it succeeds, fails or is interrupted.
#
# Needs bin/volsyncd and bin/volsyncctl (make build) and the control-plane binaries, which
# hack/envtest-assets.sh builds on first use (a few minutes, cached afterwards).
#
#   DEMO_STATUS_TIMEOUT   seconds to wait for controllers to report status (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."

status_timeout=${DEMO_STATUS_TIMEOUT:-60}
work=$(mktemp -d "${TMPDIR:-/tmp}/volsync-demo.XXXXXX")
cluster_pid=""
volsyncd_pid=""

say() { printf '\n==> %s\n' "$*"; }

# stop sends SIGTERM to one process we started and waits for it to exit (SIGKILL after 30s).
stop() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ]; then
    for log in "$work"/volsyncd.log "$work"/localcluster.log; do
      [ -s "$log" ] || continue
      echo "--- last lines of $(basename "$log") ---" >&2
      tail -n 20 "$log" >&2
    done
  fi
  say "tearing down"
  stop "$volsyncd_pid"
  stop "$cluster_pid"
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for SECONDS WHAT PID COMMAND...: polls COMMAND until it succeeds. Fails when SECONDS pass, or
# at once when the background process PID (if not empty) has exited.
wait_for() {
  local seconds=$1 what=$2 pid=$3
  shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "error: the process serving $what exited; see its log below" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: timed out after ${seconds}s waiting for $what" >&2
      return 1
    fi
    sleep 0.5
  done
}

# free_port prints a TCP port on 127.0.0.1 that nothing listens on. It picks below the kernel's
# ephemeral range, where the local ends of outgoing connections (apiserver to etcd, say) could
# hold a port that accepts no connection and yet cannot be bound.
free_port() {
  local p low=32768
  [ -r /proc/sys/net/ipv4/ip_local_port_range ] && read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  [ "$low" -gt 11024 ] || low=32768
  for _ in $(seq 1 100); do
    p=$((10000 + RANDOM % (low - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "error: no free port found on 127.0.0.1" >&2
  return 1
}

# http_get PORT PATH prints the body of http://127.0.0.1:PORT/PATH, and fails unless the status is
# 200. curl when there is one; otherwise plain bash, so the demo needs nothing beyond Go.
http_get() {
  if command -v curl >/dev/null; then
    curl -fsS "http://127.0.0.1:$1$2"
    return
  fi
  local response
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  response=$(cat <&3)
  exec 3<&-
  case "${response%%$'\r'*}" in *" 200 "*) ;; *) return 1 ;; esac
  printf '%s\n' "${response#*$'\r\n\r\n'}"
}

for bin in bin/volsyncd bin/volsyncctl; do
  [ -x "$bin" ] || { echo "error: $bin is missing: run 'make build' (or 'make demo', which builds it)" >&2; exit 1; }
done

say "control-plane binaries (built on first use, then cached)"
assets=$(bash hack/envtest-assets.sh | tail -n 1)
echo "$assets"
kubectl="$assets/kubectl"
export KUBECONFIG="$work/kubeconfig"

say "starting etcd and kube-apiserver"
go build -o "$work/localcluster" ./hack/localcluster
"$work/localcluster" --kubeconfig "$KUBECONFIG" --assets "$assets" --crds specs/crds >"$work/localcluster.log" 2>&1 &
cluster_pid=$!
wait_for 180 "the control plane" "$cluster_pid" test -s "$KUBECONFIG"
"$kubectl" version | sed -n 's/^Server Version: /kube-apiserver /p'

say "starting volsyncd"
metrics_port=$(free_port)
health_port=$(free_port)
while [ "$health_port" = "$metrics_port" ]; do health_port=$(free_port); done
bin/volsyncd --kubeconfig "$KUBECONFIG" --log-format text --log-level info \
  --metrics-bind-address "127.0.0.1:$metrics_port" --health-probe-bind-address "127.0.0.1:$health_port" \
  >"$work/volsyncd.log" 2>&1 &
volsyncd_pid=$!
wait_for 60 "volsyncd /healthz" "$volsyncd_pid" http_get "$health_port" /healthz
echo "GET /healthz: $(http_get "$health_port" /healthz)"
echo "GET /readyz:  $(http_get "$health_port" /readyz)"
metrics=$(http_get "$metrics_port" /metrics)
echo "GET /metrics (volsync_ and controller_runtime_ series, first 10):"
grep -E '^(volsync_|controller_runtime_)' <<<"$metrics" | head -n 10 | sed 's/^/  /'
grep -qE '^(volsync_|controller_runtime_)' <<<"$metrics" || { echo "error: /metrics has no volsync_ or controller_runtime_ series" >&2; exit 1; }

say "applying specs/samples"
"$kubectl" apply -k specs/samples

# Wait for status only from controllers that run: controller-runtime names each controller after
# its kind and publishes controller_runtime_reconcile_total for it once it starts.
metrics=$(http_get "$metrics_port" /metrics)
running=()
for kind in schedulepolicy replicationsource replicationdestination migrationschedule migration clusterpair; do
  grep -q "^controller_runtime_reconcile_total{controller=\"$kind\"" <<<"$metrics" && running+=("$kind")
done
if [ ${#running[@]} -eq 0 ]; then
  say "no controllers registered in volsyncd yet, so no status to wait for"
else
  say "waiting up to ${status_timeout}s for status from: ${running[*]}"
  # every object of each running kind has at least one condition
  all_reported() {
    local kind
    for kind in "${running[@]}"; do
      "$kubectl" get "$kind" -A -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[0].type}{"\n"}{end}' \
        | grep -q '=$' && return 1
    done
    return 0
  }
  wait_for "$status_timeout" "status conditions" "$volsyncd_pid" all_reported || echo "(continuing: not every object reported status in time)"
fi

say "kubectl get schedulepolicies"
"$kubectl" get schedulepolicies
say "kubectl get replicationsources,replicationdestinations,migrationschedules -A"
"$kubectl" get replicationsources,replicationdestinations,migrationschedules -A
say "kubectl get migrations,clusterpairs -A"
"$kubectl" get migrations,clusterpairs -A
say "volsyncctl version"
bin/volsyncctl version
# cobra answers --help for unknown subcommands with the parent's help, so look for the command's
# own usage line.
if bin/volsyncctl get schedulepolicy --help 2>/dev/null | grep -q 'volsyncctl get schedulepolicy'; then
  say "volsyncctl get schedulepolicy"
  bin/volsyncctl get schedulepolicy
else
  say "volsyncctl get schedulepolicy: not built yet, skipped"
fi

errors=$(grep -c 'level=error' "$work/volsyncd.log" || true)
say "demo finished: volsyncd logged $errors error line(s)"
