#!/usr/bin/env bash
# Installs the real tools the rsync and rsync-tls data-plane tests run on loopback: rsync, the
# OpenSSH client and server, stunnel4, acl (getfacl/setfacl, to check that ACLs travel) and
# libnss-wrapper (lets an unprivileged sshd and ssh run under a user id that has no passwd entry).
# Debian packages, installed only when missing (one apt-get update at most), quiet when all are
# there. Needs root (or sudo) the first time only.
set -euo pipefail

# package:command that proves it is installed
wanted=(rsync:rsync openssh-client:ssh openssh-server:sshd stunnel4:stunnel4 acl:setfacl
  libnss-wrapper:/usr/lib/x86_64-linux-gnu/libnss_wrapper.so)
missing=()
for w in "${wanted[@]}"; do
  pkg=${w%%:*} cmd=${w#*:}
  if [[ $cmd == /* ]]; then
    [ -e "$cmd" ] || [ -n "$(ls /usr/lib/*/"$(basename "$cmd")" 2>/dev/null)" ] || missing+=("$pkg")
  elif ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/usr/bin/$cmd" ]; then
    missing+=("$pkg")
  fi
done

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

if [ ${#missing[@]} -gt 0 ]; then
  echo "dataplane-tools: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp)
  # The packages' chatter goes to a log that is shown only when the install fails.
  $sudo apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  # policy-rc.d keeps the packages' post-install scripts from starting system daemons (sshd,
  # stunnel): the tests start their own, unprivileged, on free ports.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1 \
    || { cat "$log" >&2; exit 1; }
  rm -f "$log"
fi

# sshd refuses to start without its privilege-separation directory when run as root.
if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
  mkdir -p /run/sshd
  chmod 0755 /run/sshd
fi
