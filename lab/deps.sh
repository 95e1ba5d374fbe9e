#!/usr/bin/env bash
# lab/deps.sh - install the Debian packages the local lab (lab/lab.sh) needs.
#
# Idempotent and fast when there is nothing to do: if every package is already
# installed we never touch apt (no network, no lock), so lab/lab.sh can call this
# on every `up`.
#
# Installing must not start system services: docker.io, openssh-server and
# etcd-server all ship init scripts whose postinst would start dockerd, sshd and
# etcd in the machine's root namespace. The lab runs its own copies inside lab
# namespaces, so root-namespace daemons only get in the way (and there is no
# systemd here to manage them anyway). A policy-rc.d that answers 101 ("action
# forbidden") makes invoke-rc.d skip every start during the install.
set -euo pipefail

PACKAGES=(
  docker.io        # dockerd + docker client (+ containerd, runc) for every lab host
  openssh-server   # one sshd per lab host
  openssh-client   # ssh, ssh-keygen for the operator side and readiness checks
  etcd-server      # /usr/bin/etcd, copied into the lab's etcd image
  etcd-client      # /usr/bin/etcdctl, copied into the lab's etcd image
  busybox-static   # /bin/sh and friends inside the lab's etcd image
  iproute2         # ip netns / ip link for the lab network
  util-linux       # nsenter, unshare, flock, findmnt
  sudo             # the non-root deploy user of `lab up --bastion`
  cron             # one cron daemon per lab host: `backup schedule` installs its job in /etc/cron.d
  perl             # the preflight fsync probe times each write with it (also on real hosts, when present)
)

if [[ ${EUID} -ne 0 ]]; then
  echo "lab/deps.sh: must run as root (apt-get install)" >&2
  exit 2
fi

# Which packages are missing? dpkg-query prints "install ok installed" for a
# fully installed package; anything else (absent, half-configured) counts as missing.
missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null || true)
  if [[ ${status} != "install ok installed" ]]; then
    missing+=("${pkg}")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0   # fast path: nothing to do, apt not touched
fi

echo "lab/deps.sh: installing ${missing[*]}" >&2

# Forbid service starts for the duration of the install, but only if the
# machine has no policy-rc.d of its own (never replace or remove someone else's).
POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e ${POLICY} ]]; then
  printf '#!/bin/sh\n# temporary, written by etcd-deploy lab/deps.sh\nexit 101\n' > "${POLICY}"
  chmod 755 "${POLICY}"
  created_policy=1
fi
cleanup() {
  if [[ ${created_policy} -eq 1 ]]; then rm -f "${POLICY}"; fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
export NEEDRESTART_SUSPEND=1   # needrestart (if present) must not restart anything either
apt-get update
# Install the whole list (not only the missing ones) so apt also finishes any
# half-configured package; already-installed ones cost nothing.
apt-get install -y --no-install-recommends "${PACKAGES[@]}"

# Belt and braces: a package whose postinst ignored policy-rc.d must still have
# succeeded (apt-get would have failed above otherwise). Re-check the list.
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null || true)
  if [[ ${status} != "install ok installed" ]]; then
    echo "lab/deps.sh: ${pkg} is still not installed (status: ${status:-absent})" >&2
    exit 1
  fi
done
echo "lab/deps.sh: done" >&2
