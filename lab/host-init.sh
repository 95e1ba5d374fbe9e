#!/usr/bin/env bash
# lab/host-init.sh HOST IP HOSTDIR - the "init" of one lab host.
#
# lab/lab.sh copies this file into HOSTDIR and starts it as
#   nsenter --net=/run/netns/edl-HOST unshare --mount --uts --fork bash HOSTDIR/host-init.sh ...
# so it runs in the host's own network namespace and in fresh mount and UTS
# namespaces. It makes the machine's root filesystem look like a separate host,
# starts that host's dockerd and sshd, then stays alive: its pid is the handle
# `lab.sh host-exec` uses (nsenter -t PID) to enter the host.
#
# Everything it reads or writes lives in HOSTDIR (/var/lib/etcd-deploy-lab/HOST),
# never in the lab state directory: that one may sit under /tmp, which this
# script hides behind the host's own /tmp.
set -euo pipefail

host=$1 ip=$2 dir=$3

# A clean, predictable environment for the daemons (the caller's DOCKER_HOST,
# locale or PATH must not leak into a lab host).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8

echo "$$" > "${dir}/init.pid"
echo "[host-init ${host}] pid $$, ip ${ip}"

# Mounts made below must never propagate back to the machine's root namespace
# (unshare already defaults to private; say it explicitly, it is what keeps the
# lab from leaving mounts behind).
mount --make-rprivate /

# Private /run: docker.sock, containerd, runc state and sshd's privilege
# separation dir are per host, and vanish with the host's mount namespace.
mount -t tmpfs -o mode=755,size=64m "lab-${host}-run" /run
mkdir -p /run/sshd /run/lock
chmod 755 /run/sshd

# Per-host directories over the paths a real host would have on its own disk.
# /etc/docker too: every dockerd writes key.json there, and the machine's own
# daemon.json (if any) must not change the lab daemons' flags.
bind() { # bind SRC DST - create DST in the root fs if missing (an empty mountpoint)
  mkdir -p "$2"
  mount --bind "$1" "$2"
}
bind "${dir}/docker"     /var/lib/docker
bind "${dir}/data"       /var/lib/etcd-cluster
bind "${dir}/etc-docker" /etc/docker
bind "${dir}/tmp"        /tmp
# /etc/etcd-deploy: where etcd-deploy keeps a member's TLS files on a real host.
mkdir -p "${dir}/etc-etcd-deploy"
bind "${dir}/etc-etcd-deploy" /etc/etcd-deploy

# Scheduled backups (etcd-deploy backup schedule): the cron entry, the job and its settings, and the backups are a
# host's own. /etc/crontab is an empty per-host file: the machine's own (cron.hourly, cron.daily...) must not run
# once per lab host.
mkdir -p "${dir}"/{cron.d,spool-cron/crontabs,etcd-deploy-lib,backups}
chmod 1730 "${dir}/spool-cron/crontabs"; chgrp crontab "${dir}/spool-cron/crontabs" 2>/dev/null || true
bind "${dir}/cron.d"            /etc/cron.d
bind "${dir}/spool-cron"        /var/spool/cron
bind "${dir}/etcd-deploy-lib"   /usr/local/lib/etcd-deploy
bind "${dir}/backups"           /var/backups/etcd-deploy
: > "${dir}/crontab"
if [[ -e /etc/crontab ]]; then mount --bind "${dir}/crontab" /etc/crontab; fi

# root's ~/.bashrc as a fresh Debian host has it. bash reads ~/.bashrc for every
# command sshd runs; this machine's own one starts pyenv (~75 ms a command), which
# a production etcd host does not, and the lab should measure the tool, not that.
if [[ -f /root/.bashrc ]]; then
  if [[ -f /etc/skel/.bashrc ]]; then cp /etc/skel/.bashrc "${dir}/root-bashrc"; else : > "${dir}/root-bashrc"; fi
  mount --bind "${dir}/root-bashrc" /root/.bashrc
fi

hostname "${host}"

# lab.sh up --bastion writes HOSTDIR/etc: this host's own passwd, group, shadow and
# hosts (the machine's plus a non-root user "deploy"), a sudoers.d granting deploy
# passwordless sudo, and /home/deploy. Bind-mounted here, they exist on this host
# only: the machine's /etc is never changed. Without --bastion there is no HOSTDIR/etc.
if [[ -d ${dir}/etc ]]; then
  for f in passwd group shadow hosts; do mount --bind "${dir}/etc/${f}" "/etc/${f}"; done
  bind "${dir}/etc/sudoers.d" /etc/sudoers.d
  bind "${dir}/home"          /home
fi

# dockerd: no iptables/NAT/bridge (containers use --network host, which is this
# host's namespace), vfs because overlayfs on overlay/ext4 inside nested mount
# namespaces is not worth the trouble here, and a cgroup parent of our own so
# that leftovers are recognisably the lab's.
/usr/sbin/dockerd \
  --host unix:///run/docker.sock \
  --pidfile /run/docker.pid \
  --data-root /var/lib/docker \
  --exec-root /run/docker \
  --storage-driver vfs \
  --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
  --cgroup-parent "/edl-${host}" \
  --log-level warn &
echo "$!" > "${dir}/dockerd.pid"

# sshd in the foreground (-D), logging to stderr (-e, i.e. the host log).
/usr/sbin/sshd -D -e -f "${dir}/ssh/sshd_config" &
echo "$!" > "${dir}/sshd.pid"

# cron in the foreground (-f); its pid file is in this host's /run.
/usr/sbin/cron -f &
echo "$!" > "${dir}/cron.pid"

echo "[host-init ${host}] dockerd $(cat "${dir}/dockerd.pid"), sshd $(cat "${dir}/sshd.pid"), cron $(cat "${dir}/cron.pid")"

# Stay alive as the host's anchor process. On TERM, pass it on to the daemons.
on_term() {
  echo "[host-init ${host}] stopping"
  # shellcheck disable=SC2046 # one pid per word, on purpose
  kill -TERM $(jobs -p) 2>/dev/null || true
  wait || true
  exit 0
}
trap on_term TERM INT
while :; do
  sleep 3600 &
  wait "$!" || true
done
