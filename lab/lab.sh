#!/usr/bin/env bash
# lab/lab.sh - a local multi-host lab for etcd-deploy on one Linux machine.
#
# Each lab host is a network namespace plus its own mount and UTS namespaces,
# running its own sshd and dockerd; a bridge in a namespace of its own joins them,
# and the machine's root namespace gets one leg into that bridge (198.18.0.1) so
# the operator's tools reach every host by address, exactly as they would reach
# real machines. See docs/lab.md.
#
#   lab/lab.sh up [--nodes N] [--with-35] [--bastion]
#                                           clear leftovers, create N hosts (default 3);
#                                           --bastion: also a jump host and a non-root sudo user
#   lab/lab.sh down                         end the lab's processes, delete its namespaces
#   lab/lab.sh status                       per host: netns, sshd, dockerd, etcd container
#   lab/lab.sh host-exec HOST CMD...        run CMD inside HOST (nsenter, not ssh)
#   lab/lab.sh stop-sshd HOST | start-sshd HOST
#   lab/lab.sh ssh HOST [CMD...]            ssh into HOST with the lab's key
#   lab/lab.sh rekey-host HOST              new host key for HOST (sshd restarted, .lab/known_hosts updated)
#   lab/lab.sh sftp off|on HOST             restart HOST's sshd without (or with again) its sftp subsystem,
#                                           as on a hardened host
#   lab/lab.sh add-host                     one more host, fresh (empty dockerd, the lab's images, a new
#                                           address); prints "NAME IP [INNER_IP]" on stdout
#   lab/lab.sh kill-host HOST               HOST gone for good, as a machine that died: every process in it
#                                           killed at once (no graceful stop), its address and disk gone
#
# Traffic goes only to loopback and to 198.18.0.0/24 (and, with --bastion,
# 198.18.1.0/24) inside namespaces the lab made.
set -euo pipefail

# --- constants -----------------------------------------------------------------

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "${LAB_SRC}")
LAB_DIR=${LAB_DIR:-${REPO}/.lab}
HOSTS_ROOT=/var/lib/etcd-deploy-lab     # per-host docker, data, tmp, ssh dirs
CACHE=/var/cache/etcd-deploy-lab        # image tars and downloaded .debs, kept by `down`
LOCK=/run/etcd-deploy-lab.lock          # one lab per machine: up/down serialise here

NS_PREFIX=edl-                          # every namespace and root-ns link the lab makes
BR_NS=edl-br                            # namespace holding the bridge
ROOT_IF=edl-root                        # the root namespace's leg into the bridge
NET=198.18.0                            # lab subnet 198.18.0.0/24 (RFC 2544 benchmarking range)
OPERATOR_IP=${NET}.1
# --bastion: the hosts get a second leg on an inner subnet that only the bastion
# reaches (the root namespace has no leg there, and an unreachable route so no
# packet for it ever leaves the machine).
BASTION=bastion                         # its host name; namespace edl-bastion
INNER_NET=198.18.1                      # inner subnet 198.18.1.0/24
BASTION_IP=${NET}.2                     # what the operator reaches
BASTION_INNER_IP=${INNER_NET}.2
LAB_USER=deploy                         # non-root user with passwordless sudo, on lab hosts only
LAB_UID=4242                            # must be free on the machine (checked)
BASTION_MODE=0
IMAGE_RECIPE=1                          # bump when the image contents change (cache key)

# Bounded waits (seconds). dockerd answers about 1.3 s after start here (3 hosts, 2 cores).
WAIT_DOCKERD=90     # all hosts' dockerd and sshd, from launch
WAIT_SSHD=30        # start-sshd
WAIT_KILL=5

# --- small helpers ---------------------------------------------------------------

# Elapsed time in log lines. EPOCHREALTIME is in microseconds; strip its decimal
# separator (which depends on the locale) and do integer arithmetic.
T0=${EPOCHREALTIME//[!0-9]/}
elapsed() {
  local ms=$(( (${EPOCHREALTIME//[!0-9]/} - T0) / 1000 ))
  printf '%d.%d' $((ms / 1000)) $(( (ms % 1000) / 100 ))
}
log() { printf '[lab %6ss] %s\n' "$(elapsed)" "$*" >&2; }
die() { echo "lab: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; exit 2; }

host_name() { echo "etcd-$1"; }                # 1 -> etcd-1
host_ip()   { echo "${NET}.$((10 + $1))"; }     # 1 -> 198.18.0.11
host_ns()   { echo "${NS_PREFIX}$1"; }          # etcd-1 -> edl-etcd-1
host_inner_ip() { echo "${INNER_NET}.$((10 + $1))"; }   # 1 -> 198.18.1.11 (--bastion)
bastion_up() { [[ -e /run/netns/${NS_PREFIX}${BASTION} ]]; }
lab_node_count() { lab_netns_list | grep -c "^${NS_PREFIX}etcd-" || true; }
host_dir()  { echo "${HOSTS_ROOT}/$1"; }
host_index() { # etcd-3 -> 3, or die
  [[ $1 =~ ^etcd-([1-9])$ ]] || die "unknown host '$1' (expected etcd-1, etcd-2, ...)"
  echo "${BASH_REMATCH[1]}"
}

require_root_linux() {
  if [[ $(uname -s) != Linux ]]; then
    echo "lab: the lab needs Linux (network namespaces); this is $(uname -s)" >&2; exit 2
  fi
  if [[ ${EUID} -ne 0 ]]; then
    echo "lab: the lab needs root (namespaces, mounts, dockerd); run it as root" >&2; exit 2
  fi
}

take_lock() { # serialise up/down; fd 9 must be closed in every daemon we start (9>&-)
  exec 9>"${LOCK}"
  flock -w 120 9 || die "another lab.sh up/down holds ${LOCK} for over 120 s"
}

# ssh as the operator, with nothing from ~/.ssh/config or the user's known_hosts.
lab_ssh() { # lab_ssh IP [CMD...]
  local ip=$1; shift
  ssh -F /dev/null -i "${LAB_DIR}/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o UserKnownHostsFile="${LAB_DIR}/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes -o ConnectTimeout=3 -o LogLevel=ERROR \
    "root@${ip}" "$@"
}

netns_inode() { stat -L -c %i "/run/netns/$1" 2>/dev/null; }
lab_netns_list() { ip netns list 2>/dev/null | awk -v p="${NS_PREFIX}" 'index($1, p) == 1 {print $1}'; }

# The pid of a running host's init (its namespace anchor), verified to really
# sit in that host's network namespace (a recorded pid may have been reused).
host_init_pid() { # host_init_pid HOST -> pid, or return 1
  local h=$1 pid="" want
  if [[ -f ${LAB_DIR}/pids ]]; then
    pid=$(awk -v h="$h" '$1 == h && $2 == "init" {print $3}' "${LAB_DIR}/pids")
  fi
  [[ -n ${pid} ]] || pid=$(cat "$(host_dir "$h")/init.pid" 2>/dev/null || true)
  [[ -n ${pid} ]] || return 1
  want=$(netns_inode "$(host_ns "$h")") || return 1
  [[ $(stat -L -c %i "/proc/${pid}/ns/net" 2>/dev/null) == "${want}" ]] || return 1
  echo "${pid}"
}

# Run a command inside a host's network, mount and UTS namespaces.
in_host() { # in_host HOST CMD...
  local h=$1 pid; shift
  pid=$(host_init_pid "$h") || { echo "lab: host $h is not up (no live init in netns $(host_ns "$h"))" >&2; return 1; }
  (cd / && exec nsenter -t "${pid}" -n -m -u -- "$@")
}

host_docker() { # host_docker HOST ARGS... - the docker client against HOST's dockerd
  local h=$1; shift
  in_host "$h" env -u DOCKER_HOST -u DOCKER_CONTEXT docker -H unix:///run/docker.sock "$@"
}

# --- finding and ending lab processes -------------------------------------------

# Every process that belongs to a lab, from three sources:
#  1. pids recorded in LAB_DIR/pids by the last `up`, if they still sit in a lab
#     namespace (so a reused pid is never killed);
#  2. `ip netns pids` of every edl-* namespace;
#  3. any process (outside our own mount namespace) that has a mount whose source
#     lies under /var/lib/etcd-deploy-lab: that catches a lab host whose netns
#     file was already deleted, and containers in a network namespace of their own.
lab_pids() {
  local ns self_mnt
  declare -A seen=() lab_net=() lab_mnt=()
  for ns in $(lab_netns_list); do
    lab_net[$(netns_inode "${ns}")]=1
    for pid in $(ip netns pids "${ns}" 2>/dev/null); do seen[${pid}]=1; done
  done

  self_mnt=$(stat -L -c %i /proc/self/ns/mnt)
  # lsns lists each mount namespace once with one of its pids; a namespace is
  # the lab's if that pid's mountinfo shows a mount taken from HOSTS_ROOT.
  while read -r mnt pid; do
    [[ ${mnt} == "${self_mnt}" ]] && continue
    if grep -qs " ${HOSTS_ROOT}/" "/proc/${pid}/mountinfo"; then lab_mnt[${mnt}]=1; fi
  done < <(lsns -t mnt -n -r -o NS,PID 2>/dev/null)
  if [[ ${#lab_mnt[@]} -gt 0 ]]; then
    while read -r path inode; do
      if [[ -n ${lab_mnt[${inode}]:-} ]]; then
        pid=${path#/proc/}; seen[${pid%%/*}]=1
      fi
    done < <(stat -L -c '%n %i' /proc/[0-9]*/ns/mnt 2>/dev/null)
  fi

  if [[ -f ${LAB_DIR}/pids ]]; then
    while read -r _ _ pid; do
      [[ ${pid} =~ ^[0-9]+$ ]] || continue
      local net mnt
      net=$(stat -L -c %i "/proc/${pid}/ns/net" 2>/dev/null) || continue
      mnt=$(stat -L -c %i "/proc/${pid}/ns/mnt" 2>/dev/null) || continue
      if [[ -n ${lab_net[${net}]:-} || -n ${lab_mnt[${mnt}]:-} ]]; then seen[${pid}]=1; fi
    done < "${LAB_DIR}/pids"
  fi

  unset "seen[$$]" "seen[${BASHPID}]"
  echo "${!seen[@]}"
}

alive() { # a pid that exists and is not a zombie
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n ${state} && ${state} != Z ]]
}

# TERM the given pids, wait up to GRACE s, then KILL what is left and wait for it.
term_then_kill() { # term_then_kill GRACE PID...
  local grace=$1 pid i; shift
  local pids=("$@") left=()
  [[ ${#pids[@]} -gt 0 ]] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i <= grace * 10; i++)); do
    left=()
    for pid in "${pids[@]}"; do if alive "${pid}"; then left+=("${pid}"); fi; done
    [[ ${#left[@]} -gt 0 ]] || return 0
    sleep 0.1
  done
  log "KILL ${#left[@]} process(es) still there ${grace}s after TERM: ${left[*]}"
  kill -KILL "${left[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pids=("${left[@]}"); left=()
    for pid in "${pids[@]}"; do if alive "${pid}"; then left+=("${pid}"); fi; done
    [[ ${#left[@]} -gt 0 ]] || return 0
    sleep 0.1
  done
  die "processes ${left[*]} survived SIGKILL (stuck in the kernel?)"
}

# End lab processes in an order that lets them go quickly:
#  1. dockerd alone first: it stops its containers, then its containerd. TERMing
#     containerd and the shims at the same moment leaves dockerd waiting for them
#     until it gives up, which made `down` take 5 s longer.
#  2. everything else (init, sshd, whatever dockerd left). The `unshare --fork`
#     parent ignores TERM by design; it exits as soon as its child (init) does.
end_processes() { # end_processes PID...
  local pid first=() rest=()
  [[ $# -gt 0 ]] || return 0
  log "ending $# lab process(es)"
  for pid in "$@"; do
    if [[ $(cat "/proc/${pid}/comm" 2>/dev/null) == dockerd ]]; then first+=("${pid}"); else rest+=("${pid}"); fi
  done
  term_then_kill "${WAIT_KILL}" "${first[@]}"
  term_then_kill "${WAIT_KILL}" "${rest[@]}"
}

# Remove every container of every live lab host, through its own dockerd.
# `docker rm -f` kills a container outright and keeps its restart policy from
# bringing it back. Without this step `down` waited for etcd's own graceful stop
# (a leader tries to hand over leadership to peers that are stopping too, for up
# to 7 s). The lab's data is about to be deleted, so a graceful stop buys nothing.
remove_containers() {
  local ns pid jobs=()
  for ns in $(lab_netns_list); do
    [[ ${ns} == "${NS_PREFIX}"etcd-* ]] || continue
    pid=$(host_init_pid "${ns#"${NS_PREFIX}"}") || continue
    (
      docker_in() { timeout "$1" nsenter -t "${pid}" -n -m -u -- env -u DOCKER_HOST -u DOCKER_CONTEXT \
        docker -H unix:///run/docker.sock "${@:2}" 2> /dev/null; }
      ids=$(docker_in 5 ps -aq) || exit 0
      # shellcheck disable=SC2086 # container ids, one per word, on purpose
      if [[ -n ${ids} ]]; then docker_in 15 rm -f ${ids} > /dev/null || true; fi
    ) &
    jobs+=($!)
  done
  for pid in "${jobs[@]}"; do wait "${pid}" || true; done
}

# Everything an earlier lab may have left, whether or not LAB_DIR still knows it.
clear_lab() {
  local pids ns

  remove_containers

  # 1. processes first: a namespace or a mount outlives its file as long as a
  #    process still holds it. Two passes, in case a dying dockerd spawned more.
  for _ in 1 2; do
    read -r -a pids <<< "$(lab_pids)"
    end_processes "${pids[@]}"
  done

  # 2. namespaces (deleting one deletes the veth ends inside it and their peers)
  #    and the root namespace's leg into the bridge.
  for ns in $(lab_netns_list); do
    ip netns delete "${ns}" 2>/dev/null || rm -f "/run/netns/${ns}"
  done
  for link in $(ip -o link show 2>/dev/null | awk -F': ' -v p="${NS_PREFIX}" '{sub(/@.*/, "", $2)} index($2, p) == 1 {print $2}'); do
    ip link delete "${link}" 2>/dev/null || true
  done

  # `ip netns add` turned /run/netns into a mount point of its own; if no
  # namespace at all is left there (ours or anyone's), undo that too.
  if mountpoint -q /run/netns && [[ -z $(ls -A /run/netns) ]]; then
    umount /run/netns 2>/dev/null || true
  fi

  # 3. cgroups the lab's dockerds made (--cgroup-parent /edl-HOST); rmdir only
  #    removes empty ones, deepest first.
  #    (cgroup v1: /sys/fs/cgroup/<controller>/edl-etcd-1/<id>; v2: /sys/fs/cgroup/edl-etcd-1/<id>)
  find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -path "*/${NS_PREFIX}etcd-*" 2>/dev/null \
    | sort -r | xargs -r rmdir 2>/dev/null || true

  # 4. host directories (never mounted in our namespace; if something is, detach it
  #    so rm cannot reach through a mount into another filesystem).
  for m in $(findmnt -rn -o TARGET | grep "^${HOSTS_ROOT}/" | sort -r); do umount -l "${m}" || true; done
  if [[ -d ${HOSTS_ROOT} ]]; then
    find "${HOSTS_ROOT}" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
  fi
  rm -f "${LAB_DIR}/pids" "${LAB_DIR}/inventory.yaml" "${LAB_DIR}/known_hosts" \
    "${LAB_DIR}/id_ed25519" "${LAB_DIR}/id_ed25519.pub" "${LAB_DIR}/inventory-bastion.yaml"

  # 5. --bastion's unreachable route for the inner subnet, in the root namespace.
  if [[ -n $(ip route show type unreachable "${INNER_NET}.0/24" 2>/dev/null) ]]; then
    ip route del unreachable "${INNER_NET}.0/24" 2>/dev/null || true
  fi
}

# --- the network -------------------------------------------------------------------

# sysctl inside a namespace: /proc/sys/net shows the namespace of the reader.
ns_sysctl() { nsenter --net="/run/netns/$1" sysctl -q -w "${@:2}"; }
no_ipv6() { # no IPv6 on lab links: no router solicitations, no DAD, nothing but 198.18.0.0/24
  if [[ -d /proc/sys/net/ipv6 ]]; then
    ns_sysctl "$1" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  fi
}

make_network() { # make_network N
  local n=$1 k h ns
  mkdir -p /run/netns
  ip netns add "${BR_NS}"
  no_ipv6 "${BR_NS}"
  ip -n "${BR_NS}" link add br0 type bridge stp_state 0 forward_delay 0
  ip -n "${BR_NS}" link set br0 up

  # The operator's leg: created in the root namespace with its peer directly in the bridge ns.
  ip link add "${ROOT_IF}" type veth peer name root netns "${BR_NS}"
  if [[ -d /proc/sys/net/ipv6/conf/${ROOT_IF} ]]; then
    sysctl -q -w "net.ipv6.conf.${ROOT_IF}.disable_ipv6=1"
  fi
  ip addr add "${OPERATOR_IP}/24" dev "${ROOT_IF}"
  ip -n "${BR_NS}" link set root master br0 up
  ip link set "${ROOT_IF}" up

  for ((k = 1; k <= n; k++)); do host_network "$k"; done
}

host_network() { # host_network K - host K's namespace and its leg into the bridge
  local k=$1 h ns
  h=$(host_name "$k"); ns=$(host_ns "$h")
  ip netns add "${ns}"
  no_ipv6 "${ns}"
  # eth0 is created straight inside the host namespace, its peer inside the
  # bridge namespace: no temporary names in the root namespace.
  ip link add eth0 netns "${ns}" type veth peer name "${h}" netns "${BR_NS}"
  ip -n "${BR_NS}" link set "${h}" master br0 up
  ip -n "${ns}" addr add "$(host_ip "$k")/24" dev eth0
  ip -n "${ns}" link set eth0 up
  ip -n "${ns}" link set lo up
}

# --bastion: a second bridge br1 (inner subnet) in the bridge namespace, a second
# leg eth1 into it for every host, and the bastion with legs in both bridges. The
# root namespace gets no leg into br1: the inner addresses are reachable only
# through the bastion's sshd (it forwards at the SSH level; no IP forwarding).
make_bastion_network() { # make_bastion_network N
  local n=$1 k h ns bns=${NS_PREFIX}${BASTION}
  ip -n "${BR_NS}" link add br1 type bridge stp_state 0 forward_delay 0
  ip -n "${BR_NS}" link set br1 up
  for ((k = 1; k <= n; k++)); do host_inner_network "$k"; done
  ip netns add "${bns}"
  no_ipv6 "${bns}"
  ip link add eth0 netns "${bns}" type veth peer name "${BASTION}" netns "${BR_NS}"
  ip link add eth1 netns "${bns}" type veth peer name "${BASTION}-in" netns "${BR_NS}"
  ip -n "${BR_NS}" link set "${BASTION}" master br0 up
  ip -n "${BR_NS}" link set "${BASTION}-in" master br1 up
  ip -n "${bns}" addr add "${BASTION_IP}/24" dev eth0
  ip -n "${bns}" addr add "${BASTION_INNER_IP}/24" dev eth1
  ip -n "${bns}" link set eth0 up
  ip -n "${bns}" link set eth1 up
  ip -n "${bns}" link set lo up
  # Without this, a connection attempt from the root namespace to an inner address
  # would follow the machine's default route out of the machine.
  ip route add unreachable "${INNER_NET}.0/24"
}

host_inner_network() { # host_inner_network K - host K's second leg, on the inner subnet (--bastion)
  local k=$1 h ns
  h=$(host_name "$k"); ns=$(host_ns "$h")
  ip link add eth1 netns "${ns}" type veth peer name "${h}-in" netns "${BR_NS}"
  ip -n "${BR_NS}" link set "${h}-in" master br1 up
  ip -n "${ns}" addr add "$(host_inner_ip "$k")/24" dev eth1
  ip -n "${ns}" link set eth1 up
}

# sudo must exist on the machine for the lab's sudo user (the hosts share its /usr).
ensure_sudo() {
  if command -v sudo > /dev/null && [[ -d /etc/sudoers.d ]]; then return 0; fi
  log "--bastion: installing sudo (Debian package), needed by the lab's non-root user"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sudo > "${LAB_DIR}/sudo-install.log" 2>&1 \
    || die "--bastion: apt-get install sudo failed, see ${LAB_DIR}/sudo-install.log"
  mkdir -p /etc/sudoers.d
}

# The per-host /etc files host-init.sh bind-mounts in --bastion mode: the machine's
# passwd, group, shadow and hosts plus the lab user; sudoers.d granting it
# passwordless sudo; its home. The machine's own /etc is never modified.
prepare_users() { # prepare_users DIR HOSTNAME
  local dir=$1 name=$2 e=$1/etc
  mkdir -p "${e}/sudoers.d" "${dir}/home/${LAB_USER}"
  cp /etc/passwd /etc/group /etc/hosts "${e}/"
  cp /etc/shadow "${e}/shadow" && chmod 640 "${e}/shadow"
  echo "${LAB_USER}:x:${LAB_UID}:${LAB_UID}:etcd-deploy lab operator:/home/${LAB_USER}:/bin/sh" >> "${e}/passwd"
  echo "${LAB_USER}:x:${LAB_UID}:" >> "${e}/group"
  echo "${LAB_USER}:*:19000:0:99999:7:::" >> "${e}/shadow"
  # sudo looks its host name up; without this line it warns on every command
  echo "127.0.1.1 ${name}" >> "${e}/hosts"
  echo "${LAB_USER} ALL=(ALL:ALL) NOPASSWD: ALL" > "${e}/sudoers.d/etcd-deploy-lab"
  chmod 750 "${e}/sudoers.d"; chmod 440 "${e}/sudoers.d/etcd-deploy-lab"
  chown "${LAB_UID}:${LAB_UID}" "${dir}/home/${LAB_USER}"
}

# The bastion: its own network, mount and UTS namespaces, the lab user, and only an
# sshd (no dockerd). Its init script is written here, next to its files.
prepare_bastion() {
  local dir
  dir=$(host_dir "${BASTION}")
  mkdir -p "${dir}/ssh"
  ssh-keygen -q -t ed25519 -N '' -C "root@${BASTION} (etcd-deploy lab)" -f "${dir}/ssh/ssh_host_ed25519_key"
  cp "${LAB_DIR}/id_ed25519.pub" "${dir}/ssh/authorized_keys"
  write_sshd_config "${BASTION}" "${BASTION_IP}"
  prepare_users "${dir}" "${BASTION}"
  cat > "${dir}/bastion-init.sh" <<'INIT'
#!/usr/bin/env bash
# The bastion's init (written by lab/lab.sh up --bastion): private /run, the lab
# user's /etc files and home, then sshd; stays alive as the namespace anchor.
set -euo pipefail
host=$1 dir=$2
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
echo "$$" > "${dir}/init.pid"
mount --make-rprivate /
mount -t tmpfs -o mode=755,size=16m "lab-${host}-run" /run
mkdir -p /run/sshd && chmod 755 /run/sshd
for f in passwd group shadow hosts; do mount --bind "${dir}/etc/${f}" "/etc/${f}"; done
mkdir -p /home && mount --bind "${dir}/home" /home
hostname "${host}"
/usr/sbin/sshd -D -e -f "${dir}/ssh/sshd_config" &
echo "$!" > "${dir}/sshd.pid"
echo "[bastion-init] pid $$, sshd $(cat "${dir}/sshd.pid")"
trap 'kill -TERM $(jobs -p) 2>/dev/null || true; wait || true; exit 0' TERM INT
while :; do sleep 3600 & wait "$!" || true; done
INIT
}

start_bastion() {
  local dir
  dir=$(host_dir "${BASTION}")
  setsid env -i PATH="${PATH}" nsenter --net="/run/netns/${NS_PREFIX}${BASTION}" \
    unshare --mount --uts --fork --propagation private \
    bash "${dir}/bastion-init.sh" "${BASTION}" "${dir}" \
    < /dev/null >> "${LAB_DIR}/${BASTION}.log" 2>&1 9>&- &
  echo "${BASTION} launcher $!" >> "${LAB_DIR}/pids"
}

wait_bastion() {
  local t_end=$((SECONDS + WAIT_DOCKERD)) pid role
  until lab_ssh "${BASTION_IP}" true 2> /dev/null; do
    pid=$(cat "$(host_dir "${BASTION}")/sshd.pid" 2>/dev/null || true)
    if [[ -n ${pid} ]] && ! alive "${pid}"; then
      echo "lab: ${BASTION}: sshd (pid ${pid}) exited during start-up; see ${LAB_DIR}/${BASTION}.log" >&2; exit 1
    fi
    ((SECONDS < t_end)) || die "${BASTION}: sshd not answering after ${WAIT_DOCKERD}s; see ${LAB_DIR}/${BASTION}.log"
    sleep 0.2
  done
  for role in init sshd; do
    echo "${BASTION} ${role} $(cat "$(host_dir "${BASTION}")/${role}.pid")" >> "${LAB_DIR}/pids"
  done
}

# --- hosts -----------------------------------------------------------------------

write_sshd_config() { # write_sshd_config HOST IP [INNER_IP]
  local h=$1 ip=$2 inner=${3:-} dir
  dir=$(host_dir "$h")
  cat > "${dir}/ssh/sshd_config" <<EOF
# Written by lab/lab.sh for lab host ${h}. Only this file is read (sshd -f).
ListenAddress ${ip}:22
${inner:+ListenAddress ${inner}:22}
HostKey ${dir}/ssh/ssh_host_ed25519_key
AuthorizedKeysFile ${dir}/ssh/authorized_keys
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# the key files live under /var/lib/etcd-deploy-lab, not in a home directory
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
MaxSessions 10
MaxStartups 50:30:100
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
EOF
}

# Prepare one host's directory: its own ssh host key, config, and the init script.
prepare_host() { # prepare_host K
  local k=$1 h dir
  h=$(host_name "$k"); dir=$(host_dir "$h")
  mkdir -p "${dir}"/{docker,data,tmp,etc-docker,ssh}
  chmod 1777 "${dir}/tmp"
  chmod 700 "${dir}/docker"
  ssh-keygen -q -t ed25519 -N '' -C "root@${h} (etcd-deploy lab)" -f "${dir}/ssh/ssh_host_ed25519_key"
  cp "${LAB_DIR}/id_ed25519.pub" "${dir}/ssh/authorized_keys"
  if [[ ${BASTION_MODE} -eq 1 ]]; then
    write_sshd_config "$h" "$(host_ip "$k")" "$(host_inner_ip "$k")"
    prepare_users "${dir}" "$h"
  else
    write_sshd_config "$h" "$(host_ip "$k")"
  fi
  cp "${LAB_SRC}/host-init.sh" "${dir}/host-init.sh"
}

start_host() { # start_host K - launch the host's init in the background, detached
  local k=$1 h ip dir
  h=$(host_name "$k"); ip=$(host_ip "$k"); dir=$(host_dir "$h")
  # setsid: its own session, so it is not tied to our terminal or process group;
  # stdin/stdout/stderr and the lock fd are closed/redirected so that a caller
  # waiting on our output (a test harness) is not kept waiting by the daemons.
  setsid env -i PATH="${PATH}" nsenter --net="/run/netns/$(host_ns "$h")" \
    unshare --mount --uts --fork --propagation private \
    bash "${dir}/host-init.sh" "$h" "${ip}" "${dir}" \
    < /dev/null >> "${LAB_DIR}/${h}.log" 2>&1 9>&- &
  echo "$h launcher $!" >> "${LAB_DIR}/pids"
}

# Wait until every host has its init, dockerd and sshd answering; bounded.
wait_hosts() { # wait_hosts K... - the indexes of the hosts to wait for
  local k h ip dir t_end pending daemon pid
  declare -A ok=()
  t_end=$((SECONDS + WAIT_DOCKERD))
  while :; do
    pending=()
    for k in "$@"; do
      h=$(host_name "$k"); ip=$(host_ip "$k"); dir=$(host_dir "$h")
      # A daemon that already exited will not answer later: fail now, with its log.
      for daemon in init dockerd sshd; do
        [[ -z ${ok[$h:sshd]:-} || -z ${ok[$h:dockerd]:-} ]] || break
        pid=$(cat "${dir}/${daemon}.pid" 2>/dev/null) || continue
        if ! alive "${pid}"; then
          echo "lab: $h: ${daemon} (pid ${pid}) exited during start-up; last lines of ${LAB_DIR}/$h.log:" >&2
          tail -n 20 "${LAB_DIR}/$h.log" | sed 's/^/  | /' >&2
          exit 1
        fi
      done
      if [[ -z ${ok[$h:dockerd]:-} ]]; then
        if host_init_pid "$h" > /dev/null && host_docker "$h" version --format '{{.Server.Version}}' > /dev/null 2>&1; then
          ok[$h:dockerd]=1
        else
          pending+=("$h:dockerd")
        fi
      fi
      if [[ -z ${ok[$h:sshd]:-} ]]; then
        if lab_ssh "${ip}" true 2> /dev/null; then ok[$h:sshd]=1; else pending+=("$h:sshd"); fi
      fi
    done
    [[ ${#pending[@]} -gt 0 ]] || return 0
    if ((SECONDS >= t_end)); then
      for p in "${pending[@]}"; do
        echo "lab: ${p%%:*}: ${p#*:} not answering after ${WAIT_DOCKERD}s; see ${LAB_DIR}/${p%%:*}.log" >&2
      done
      exit 1
    fi
    sleep 0.2
  done
}

record_pids() { # record_pids K... - the pids each of these hosts' init wrote, into LAB_DIR/pids
  local k h dir role
  for k in "$@"; do
    h=$(host_name "$k"); dir=$(host_dir "$h")
    for role in init dockerd sshd; do
      echo "$h ${role} $(cat "${dir}/${role}.pid")" >> "${LAB_DIR}/pids"
    done
  done
}

# --- the etcd image ----------------------------------------------------------------

# Fill ROOT with the given etcd binaries (in /usr/local/bin), the shared
# libraries they link (per ldd) plus the loader, and busybox as /bin/sh & co.
make_image_root() { # make_image_root ROOT BINARY...
  local root=$1 bin lib; shift
  mkdir -p "${root}"/{bin,usr/local/bin,var/lib/etcd,tmp,etc/ssl/certs}
  chmod 1777 "${root}/tmp"
  for bin in "$@"; do
    cp -L "${bin}" "${root}/usr/local/bin/"
    # ldd prints "libc.so.6 => /lib/.../libc.so.6 (0x..)" and "/lib64/ld-linux-x86-64.so.2 (0x..)":
    # every absolute path is a file to copy, at the same path, symlinks resolved.
    for lib in $(ldd "${bin}" 2>/dev/null | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i}'); do
      [[ -e ${root}${lib} ]] || { mkdir -p "${root}$(dirname "${lib}")"; cp -L "${lib}" "${root}${lib}"; }
    done
  done
  cp -L "$(command -v busybox)" "${root}/bin/busybox"
  # busybox must be the static one: the image has only the etcd binaries' libraries
  # (ldd exits 1 for a static binary, hence the || true)
  if [[ $(ldd "${root}/bin/busybox" 2>&1 || true) != *"not a dynamic executable"* ]]; then
    die "$(command -v busybox) is not statically linked; install busybox-static"
  fi
  for applet in sh ls cat mkdir rm mv sleep test echo dd sync; do
    ln -sf busybox "${root}/bin/${applet}"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "${root}/etc/passwd"
  printf 'root:x:0:\n' > "${root}/etc/group"
}

# Build (or take from the cache) the image tar for one etcd; prints its path.
image_tar() { # image_tar VERSION BINARY...
  local version=$1 tar tmp; shift
  tar="${CACHE}/etcd-lab-${version}-r${IMAGE_RECIPE}.tar"
  if [[ ! -s ${tar} ]]; then
    mkdir -p "${CACHE}"
    tmp=$(mktemp -d "${CACHE}/build.XXXXXX")
    # image_tar runs in a subshell (background job or $(...)), so this trap is its own;
    # the path is expanded now because the local variable is gone when the trap runs.
    # shellcheck disable=SC2064 # expanded now, on purpose
    trap "rm -rf '${tmp}'" EXIT
    make_image_root "${tmp}/root" "$@"
    # reproducible: sorted, root-owned, fixed mtime
    tar -C "${tmp}/root" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "${tmp}/etcd.tar" .
    mv "${tmp}/etcd.tar" "${tar}"
    rm -rf "${tmp}"
    trap - EXIT
  fi
  echo "${tar}"
}

etcd_version() { # etcd_version /path/to/etcd -> 3.4.23
  "$1" --version 2>/dev/null | awk '/^etcd Version:/ {print $3; exit}'
}

import_image() { # import_image HOST TAR TAG [EXTRA_TAG...]
  local h=$1 tar=$2 tag=$3 extra; shift 3
  host_docker "$h" import -c 'ENV PATH=/usr/local/bin:/bin' "${tar}" "${tag}" > /dev/null
  for extra in "$@"; do host_docker "$h" tag "${tag}" "${extra}"; done
}

# Debian trixie's etcd 3.5.x, fetched with a private apt configuration (the
# system's sources, lists and cache are left alone). Prints "VERSION ROOTDIR".
fetch_etcd35() {
  local base="${CACHE}/trixie" uri sources
  mkdir -p "${base}"/{lists/partial,cache/archives/partial,debs}
  if ! compgen -G "${base}/debs/etcd-server_*.deb" > /dev/null || ! compgen -G "${base}/debs/etcd-client_*.deb" > /dev/null; then
    # The mirror the system itself uses (deb822 .sources first, then sources.list).
    uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    if [[ -z ${uri} ]]; then
      uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
        /etc/apt/sources.list 2>/dev/null || true)
    fi
    [[ -n ${uri} ]] || die "--with-35: no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
    sources="${base}/sources.list"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${uri} trixie main" > "${sources}"
    local apt_opts=(-o "Dir::Etc::SourceList=${sources}" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=${base}/lists" -o "Dir::Cache=${base}/cache"
      -o Dir::State::status=/dev/null -o Debug::NoLocking=1 -o APT::Sandbox::User=root
      -o Acquire::Languages=none)
    log "fetching Debian trixie's etcd-server/etcd-client (private apt config, mirror ${uri})"
    apt-get -q "${apt_opts[@]}" update > "${base}/apt.log" 2>&1 || die "--with-35: apt-get update failed, see ${base}/apt.log"
    (cd "${base}/debs" && apt-get -q "${apt_opts[@]}" download etcd-server etcd-client >> "${base}/apt.log" 2>&1) \
      || die "--with-35: apt-get download failed, see ${base}/apt.log"
  fi
  rm -rf "${base}/x"; mkdir -p "${base}/x"
  for deb in "${base}"/debs/etcd-server_*.deb "${base}"/debs/etcd-client_*.deb; do
    dpkg-deb -x "${deb}" "${base}/x"
  done
  local v
  v=$(etcd_version "${base}/x/usr/bin/etcd")
  [[ ${v} == 3.5.* ]] || die "--with-35: extracted etcd reports version '${v}', expected 3.5.x"
  echo "${v} ${base}/x"
}

# --- writing the operator's files ------------------------------------------------------

# Both inventories describe the same cluster; only how the hosts are reached differs.
cluster_yaml() { # cluster_yaml IMAGE
  echo "cluster:"
  echo "  token: lab-etcd-cluster"
  echo "  image: $1"
  echo "  client_port: 2379"
  echo "  peer_port: 2380"
  echo "  data_path: /var/lib/etcd-cluster"
}

nodes_yaml() { # nodes_yaml N ADDRESS_FUNCTION
  local k
  echo "nodes:"
  for ((k = 1; k <= $1; k++)); do
    echo "  - name: $(host_name "$k")"
    echo "    ip: $("$2" "$k")"
  done
}

write_inventory() { # write_inventory N IMAGE
  local n=$1 image=$2
  {
    echo "# Written by lab/lab.sh up: the lab's ${n} hosts."
    cluster_yaml "${image}"
    echo "ssh:"
    echo "  user: root"
    echo "  key: ./id_ed25519"
    echo "  known_hosts: ./known_hosts"
    nodes_yaml "${n}" host_ip
  } > "${LAB_DIR}/inventory.yaml"
}

write_known_hosts() { # write_known_hosts - every host that has a key (a killed host has none), plus the bastion
  local k key bkey pub
  bkey=$(host_dir "${BASTION}")/ssh/ssh_host_ed25519_key.pub
  for ((k = 1; k <= 9; k++)); do
    pub=$(host_dir "$(host_name "$k")")/ssh/ssh_host_ed25519_key.pub
    [[ -f ${pub} ]] || continue
    key=$(cut -d' ' -f1,2 "${pub}")
    echo "$(host_ip "$k") ${key}"
    if [[ -f ${bkey} ]]; then echo "$(host_inner_ip "$k") ${key}"; fi
  done > "${LAB_DIR}/known_hosts"
  if [[ -f ${bkey} ]]; then echo "${BASTION_IP} $(cut -d' ' -f1,2 "${bkey}")" >> "${LAB_DIR}/known_hosts"; fi
}

# The inventory for --bastion: the same hosts by their inner addresses, reached through
# the bastion as the non-root lab user, every command through sudo -n.
write_inventory_bastion() { # write_inventory_bastion N IMAGE
  local n=$1 image=$2
  {
    echo "# Written by lab/lab.sh up --bastion: the lab's ${n} hosts behind the bastion ${BASTION_IP}."
    cluster_yaml "${image}"
    echo "ssh:"
    echo "  user: ${LAB_USER}"
    echo "  sudo: true"
    echo "  key: ./id_ed25519"
    echo "  known_hosts: ./known_hosts"
    echo "  config: none"
    echo "  bastion:"
    echo "    host: ${BASTION_IP}"
    echo "    user: ${LAB_USER}"
    nodes_yaml "${n}" host_inner_ip
  } > "${LAB_DIR}/inventory-bastion.yaml"
}

# --- subcommands -----------------------------------------------------------------

cmd_up() {
  local n=3 with35=0
  while [[ $# -gt 0 ]]; do
    case $1 in
      --nodes) [[ $# -ge 2 ]] || usage; n=$2; shift 2 ;;
      --nodes=*) n=${1#*=}; shift ;;
      --with-35) with35=1; shift ;;
      --bastion) BASTION_MODE=1; shift ;;
      *) echo "lab up: unknown argument '$1'" >&2; usage ;;
    esac
  done
  [[ ${n} =~ ^[1-9]$ ]] || { echo "lab up: --nodes must be 1..9 (the cluster sizes of interest are 3, 5, 7)" >&2; exit 2; }

  # stdout is kept for the one line that says where the inventory is
  bash "${LAB_SRC}/deps.sh" >&2
  take_lock
  mkdir -p "${LAB_DIR}"
  LAB_DIR=$(cd "${LAB_DIR}" && pwd)   # absolute: it goes into logs and messages
  # keys, logs and pids are nobody's to commit: ignore the whole directory from
  # inside it, whatever the repository's own .gitignore says
  echo '*' > "${LAB_DIR}/.gitignore"

  log "clearing anything an earlier lab left"
  clear_lab

  # The image tar does not depend on the hosts: build it (or find it in the
  # cache) while the hosts start.
  local version
  version=$(etcd_version /usr/bin/etcd)
  [[ -n ${version} ]] || die "cannot read the version of /usr/bin/etcd"
  local image="etcd-lab:${version}"
  image_tar "${version}" /usr/bin/etcd /usr/bin/etcdctl > "${LAB_DIR}/.image-tar" 2> "${LAB_DIR}/image-build.log" &
  local image_job=$!

  if [[ ${BASTION_MODE} -eq 1 ]]; then
    ensure_sudo
    if getent passwd "${LAB_UID}" > /dev/null || getent group "${LAB_UID}" > /dev/null || getent passwd "${LAB_USER}" > /dev/null; then
      die "--bastion: uid/gid ${LAB_UID} or user ${LAB_USER} already exists on this machine; change LAB_UID/LAB_USER in lab/lab.sh"
    fi
  fi

  log "creating ${n} host(s) on ${NET}.0/24"
  : > "${LAB_DIR}/pids"
  rm -f "${LAB_DIR}"/etcd-*.log "${LAB_DIR}/${BASTION}.log"
  ssh-keygen -q -t ed25519 -N '' -C "operator@etcd-deploy-lab" -f "${LAB_DIR}/id_ed25519"
  make_network "${n}"
  if [[ ${BASTION_MODE} -eq 1 ]]; then
    log "--bastion: ${BASTION} at ${BASTION_IP}; hosts also on ${INNER_NET}.0/24, reachable only through it"
    make_bastion_network "${n}"
    prepare_bastion
  fi
  local k jobs=()
  for ((k = 1; k <= n; k++)); do prepare_host "$k" & jobs+=($!); done
  wait_pids "preparing hosts" "${jobs[@]}"
  write_known_hosts
  for ((k = 1; k <= n; k++)); do start_host "$k"; done
  if [[ ${BASTION_MODE} -eq 1 ]]; then start_bastion; fi

  log "waiting for dockerd and sshd on every host"
  wait_hosts $(seq 1 "${n}")
  record_pids $(seq 1 "${n}")
  if [[ ${BASTION_MODE} -eq 1 ]]; then wait_bastion; fi
  log "all hosts answer"

  wait "${image_job}" || die "building the etcd image failed, see ${LAB_DIR}/image-build.log"
  local tar
  tar=$(cat "${LAB_DIR}/.image-tar"); rm -f "${LAB_DIR}/.image-tar"
  log "importing ${image} (and ${image}-b) into every host's dockerd"
  jobs=()
  for ((k = 1; k <= n; k++)); do import_image "$(host_name "$k")" "${tar}" "${image}" "${image}-b" & jobs+=($!); done
  wait_pids "importing ${image}" "${jobs[@]}"

  if [[ ${with35} -eq 1 ]]; then
    local v35 root35 tar35
    read -r v35 root35 <<< "$(fetch_etcd35)"
    [[ -n ${v35} && -n ${root35} ]] || die "--with-35: could not prepare etcd 3.5"
    tar35=$(image_tar "${v35}" "${root35}/usr/bin/etcd" "${root35}/usr/bin/etcdctl" "${root35}/usr/bin/etcdutl")
    log "importing etcd-lab:${v35} into every host's dockerd"
    jobs=()
    for ((k = 1; k <= n; k++)); do import_image "$(host_name "$k")" "${tar35}" "etcd-lab:${v35}" & jobs+=($!); done
    wait_pids "importing etcd-lab:${v35}" "${jobs[@]}"
  fi

  write_inventory "${n}" "${image}"
  if [[ ${BASTION_MODE} -eq 1 ]]; then
    write_inventory_bastion "${n}" "${image}"
    log "inventory through the bastion (user ${LAB_USER}, sudo): ${LAB_DIR}/inventory-bastion.yaml"
  fi
  log "lab up: ${n} host(s); images: $(host_docker etcd-1 images --format '{{.Repository}}:{{.Tag}}' | sort | paste -sd ' ')"
  log "inventory: ${LAB_DIR}/inventory.yaml"
  echo "${LAB_DIR}/inventory.yaml"   # the only line on stdout, for scripts
}

# Wait for the given background jobs (never for all children: the hosts'
# launchers are our children too); fail naming the step if any job failed.
wait_pids() { # wait_pids WHAT PID...
  local what=$1 failed=0 pid; shift
  for pid in "$@"; do wait "${pid}" || failed=1; done
  [[ ${failed} -eq 0 ]] || die "${what} failed on at least one host (messages above)"
}

cmd_down() {
  take_lock
  log "ending the lab"
  clear_lab
  log "lab down"
}

cmd_status() {
  local nss h ip pid st_ns st_ssh st_docker st_etcd any=0
  nss=$(lab_netns_list)
  printf '%-8s %-12s %-6s %-8s %-8s %s\n' HOST IP NETNS SSHD DOCKERD ETCD
  for ((k = 1; k <= 9; k++)); do
    h=$(host_name "$k"); ip=$(host_ip "$k")
    grep -qx "$(host_ns "$h")" <<< "${nss}" || continue
    any=1
    st_ns=yes; st_ssh=no; st_docker=no; st_etcd=-
    if [[ -f ${LAB_DIR}/known_hosts ]] && lab_ssh "${ip}" true 2> /dev/null; then st_ssh=yes; fi
    if pid=$(host_init_pid "$h"); then
      if host_docker "$h" version --format '{{.Server.Version}}' > /dev/null 2>&1; then
        st_docker=yes
        st_etcd=$(host_docker "$h" inspect -f '{{.State.Status}}' etcd 2> /dev/null) || st_etcd=absent
      fi
    else
      st_docker="no-init"
    fi
    printf '%-8s %-12s %-6s %-8s %-8s %s\n' "$h" "${ip}" "${st_ns}" "${st_ssh}" "${st_docker}" "${st_etcd}"
  done
  if bastion_up; then
    st_ssh=no
    if [[ -f ${LAB_DIR}/known_hosts ]] && lab_ssh "${BASTION_IP}" true 2> /dev/null; then st_ssh=yes; fi
    printf '%-8s %-12s %-6s %-8s %-8s %s\n' "${BASTION}" "${BASTION_IP}" yes "${st_ssh}" - -
  fi
  if [[ ${any} -eq 0 ]]; then echo "(no lab hosts: the lab is down)"; fi
  if [[ -n $(grep -x "${BR_NS}" <<< "${nss}" || true) ]]; then echo "bridge namespace ${BR_NS}: present"; fi
}

cmd_host_exec() { # host-exec HOST CMD...   (HOST may also be the bastion)
  [[ $# -ge 2 ]] || usage
  local h=$1; shift
  [[ $h == "${BASTION}" ]] || host_index "$h" > /dev/null
  local pid
  pid=$(host_init_pid "$h") || die "host $h is not up (no live init process in netns $(host_ns "$h"))"
  cd /
  # The command sees the host as a shell on it would: the operator's own
  # DOCKER_HOST/DOCKER_CONTEXT (if any) must not redirect its docker client.
  exec nsenter -t "${pid}" -n -m -u -- env -u DOCKER_HOST -u DOCKER_CONTEXT "$@"
}

sshd_pid() { # the pid of HOST's listening sshd, from its pidfile in the host's /run
  local h=$1 pid
  pid=$(in_host "$h" cat /run/sshd.pid 2>/dev/null) || return 1
  # a stale pidfile must not make us signal whatever process reuses that pid:
  # it has to be an sshd inside this host's network namespace
  [[ $(cat "/proc/${pid}/comm" 2>/dev/null) == sshd ]] || return 1
  [[ $(stat -L -c %i "/proc/${pid}/ns/net" 2>/dev/null) == "$(netns_inode "$(host_ns "$h")")" ]] || return 1
  echo "${pid}"
}

cmd_stop_sshd() { # stop-sshd HOST - kill only the listener; open sessions stay, as with a real `systemctl stop ssh`
  [[ $# -eq 1 ]] || usage
  local h=$1 k pid i listening
  k=$(host_index "$h")
  host_init_pid "$h" > /dev/null || die "host $h is not up"
  if pid=$(sshd_pid "$h") && alive "${pid}"; then
    kill -TERM "${pid}"
    for ((i = 0; i < 50; i++)); do alive "${pid}" || break; sleep 0.1; done
    if alive "${pid}"; then kill -KILL "${pid}"; fi
  fi
  # confirm nothing listens on port 22 any more
  for ((i = 0; i < 50; i++)); do
    listening=$(in_host "$h" ss -Htln "sport = :22") || die "cannot list $h's sockets"
    if [[ -z ${listening} ]]; then echo "sshd on $h ($(host_ip "$k")) stopped"; return 0; fi
    sleep 0.1
  done
  die "sshd on $h still listening on port 22"
}

cmd_start_sshd() { # start-sshd HOST - (re)start HOST's sshd if it is not running
  [[ $# -eq 1 ]] || usage
  local h=$1 k pid dir i
  k=$(host_index "$h"); dir=$(host_dir "$h")
  if pid=$(sshd_pid "$h") && alive "${pid}"; then
    echo "sshd on $h already running (pid ${pid})"; return 0
  fi
  pid=$(host_init_pid "$h") || die "host $h is not up"
  setsid nsenter -t "${pid}" -n -m -u -- /usr/sbin/sshd -D -e -f "${dir}/ssh/sshd_config" \
    < /dev/null >> "${LAB_DIR}/${h}.log" 2>&1 &
  for ((i = 0; i < WAIT_SSHD * 5; i++)); do
    if lab_ssh "$(host_ip "$k")" true 2> /dev/null; then
      pid=$(sshd_pid "$h")
      echo "$h sshd ${pid}" >> "${LAB_DIR}/pids"
      echo "sshd on $h ($(host_ip "$k")) started (pid ${pid})"
      return 0
    fi
    sleep 0.2
  done
  die "sshd on $h did not answer within ${WAIT_SSHD}s; see ${LAB_DIR}/${h}.log"
}

# A new host key for HOST, as after a reinstall: the old key is gone, sshd restarts
# with the new one, and .lab/known_hosts is rewritten (a copy made before keeps the
# old key: that is how a test sees a changed host key).
cmd_rekey_host() { # rekey-host HOST
  [[ $# -eq 1 ]] || usage
  local h=$1 dir
  host_index "$h" > /dev/null
  host_init_pid "$h" > /dev/null || die "host $h is not up"
  dir=$(host_dir "$h")
  rm -f "${dir}/ssh/ssh_host_ed25519_key" "${dir}/ssh/ssh_host_ed25519_key.pub"
  ssh-keygen -q -t ed25519 -N '' -C "root@${h} (etcd-deploy lab, rekeyed)" -f "${dir}/ssh/ssh_host_ed25519_key"
  write_known_hosts
  cmd_stop_sshd "$h" > /dev/null
  cmd_start_sshd "$h" > /dev/null
  echo "$h has a new host key: $(ssh-keygen -lf "${dir}/ssh/ssh_host_ed25519_key.pub" | cut -d' ' -f2)"
}

# A hardened host: sshd without a Subsystem line refuses every sftp request (the
# OpenSSH sftp client fails with "subsystem request failed"). Only the listener
# restarts; sessions already open stay, as with a real `systemctl restart ssh`.
cmd_sftp() { # sftp off|on HOST
  [[ $# -eq 2 && ( $1 == off || $1 == on ) ]] || usage
  local state=$1 h=$2 conf
  host_index "$h" > /dev/null
  host_init_pid "$h" > /dev/null || die "host $h is not up"
  conf=$(host_dir "$h")/ssh/sshd_config
  if [[ ${state} == off ]]; then
    sed -i 's/^Subsystem[[:space:]]\{1,\}sftp[[:space:]]/# sftp off: &/' "${conf}"
  else
    sed -i 's/^# sftp off: //' "${conf}"
  fi
  cmd_stop_sshd "$h" > /dev/null
  cmd_start_sshd "$h" > /dev/null
  echo "sshd on $h restarted with sftp ${state}"
}

cmd_ssh() { # ssh HOST [CMD...]
  [[ $# -ge 1 ]] || usage
  local k
  k=$(host_index "$1"); shift
  exec ssh -F /dev/null -i "${LAB_DIR}/id_ed25519" -o IdentitiesOnly=yes \
    -o UserKnownHostsFile="${LAB_DIR}/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes -o LogLevel=ERROR "root@$(host_ip "$k")" "$@"
}

# One more host on a lab that is up: the next unused index (a killed host's index is
# never reused, so its old address stays dead), the same preparation as at `up`, and
# the lab's images copied from a live host's dockerd. The inventories are not
# rewritten: a test adds the node to its own inventory.
cmd_add_host() { # add-host
  [[ $# -eq 0 ]] || usage
  take_lock
  [[ -e /run/netns/${BR_NS} ]] || die "the lab is not up (no ${BR_NS} namespace): run lab/lab.sh up first"
  local k=0 i src="" h ip
  for ((i = 1; i <= 9; i++)); do
    if [[ -d $(host_dir "$(host_name "$i")") ]]; then k=$i; fi
    if [[ -z ${src} ]] && host_init_pid "$(host_name "$i")" > /dev/null; then src=$(host_name "$i"); fi
  done
  k=$((k + 1))
  ((k <= 9)) || die "the lab has room for hosts etcd-1 to etcd-9 only"
  [[ -n ${src} ]] || die "no live lab host to copy the images from"
  h=$(host_name "$k"); ip=$(host_ip "$k")
  if bastion_up; then BASTION_MODE=1; fi
  log "adding host ${h} (${ip})"
  host_network "$k"
  if [[ ${BASTION_MODE} -eq 1 ]]; then host_inner_network "$k"; fi
  prepare_host "$k"
  write_known_hosts
  start_host "$k"
  wait_hosts "$k"
  record_pids "$k"
  local images
  images=$(host_docker "${src}" images --format '{{.Repository}}:{{.Tag}}' | grep -v '<none>' | paste -sd ' ')
  if [[ -n ${images} ]]; then
    log "copying images from ${src}: ${images}"
    # shellcheck disable=SC2086 # image names, one per word, on purpose
    host_docker "${src}" save ${images} | host_docker "$h" load > /dev/null
  fi
  log "host ${h} is up"
  if [[ ${BASTION_MODE} -eq 1 ]]; then echo "${h} ${ip} $(host_inner_ip "$k")"; else echo "${h} ${ip}"; fi
}

# A machine that died for good: every process in the host's namespace (init, sshd,
# dockerd, containerd, the etcd container) is SIGKILLed at once, then its network
# namespace (so its addresses answer nothing), its cgroups and its directory (its
# "disk") are removed. Nothing of it stays to come back.
cmd_kill_host() { # kill-host HOST
  [[ $# -eq 1 ]] || usage
  local h=$1 ns pids i
  host_index "$h" > /dev/null
  take_lock
  ns=$(host_ns "$h")
  [[ -e /run/netns/${ns} ]] || die "host $h is not up (no namespace ${ns})"
  for ((i = 0; i < 50; i++)); do
    read -r -a pids <<< "$(ip netns pids "${ns}" 2>/dev/null | paste -sd ' ')"
    [[ ${#pids[@]} -gt 0 ]] || break
    kill -KILL "${pids[@]}" 2>/dev/null || true
    sleep 0.1
  done
  [[ ${#pids[@]} -eq 0 ]] || die "processes ${pids[*]} in ${ns} survived SIGKILL"
  ip netns delete "${ns}" 2>/dev/null || rm -f "/run/netns/${ns}"
  find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -path "*/${ns}*" 2>/dev/null | sort -r | xargs -r rmdir 2>/dev/null || true
  local dir
  dir=$(host_dir "$h")
  for m in $(findmnt -rn -o TARGET | grep "^${dir}/" | sort -r); do umount -l "${m}" || true; done
  # The directory itself stays, empty, so its index is never given to a new host.
  find "${dir}" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
  write_known_hosts
  echo "host $h killed for good"
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1; shift
  case ${cmd} in
    -h|--help|help) usage ;;
  esac
  require_root_linux
  case ${cmd} in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    host-exec) cmd_host_exec "$@" ;;
    stop-sshd) cmd_stop_sshd "$@" ;;
    start-sshd) cmd_start_sshd "$@" ;;
    ssh) cmd_ssh "$@" ;;
    rekey-host) cmd_rekey_host "$@" ;;
    sftp) cmd_sftp "$@" ;;
    add-host) cmd_add_host "$@" ;;
    kill-host) cmd_kill_host "$@" ;;
    *) echo "lab: unknown command '${cmd}'" >&2; usage ;;
  esac
}

main "$@"
