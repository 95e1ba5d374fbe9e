// The preflight probes as data: pure builders of the argv each check runs on a host. `up` and `check` share them, and
// `plan` prints them, so what an operator reads is what runs. Several reads are batched into one short POSIX sh script
// (one SSH channel instead of a dozen); the scripts take every variable as a positional argument, never spliced into
// their text, so plan/shell.render remains the only quoting.
//
// Tools used on the host, all present on a minimal Debian/Ubuntu: sh, id, nproc, df, stat, readlink, cat, grep,
// dirname, date, timeout, dd, mktemp, rmdir; `ip` (iproute2) or `hostname -I`; `ss` or /proc/net/tcp; `perl` with Time::HiRes when
// present (per-write fsync timings), else dd (mean only); bash /dev/tcp or nc for the peer port; systemctl when booted
// with systemd; docker. Per host that is three commands beside `up`'s four probes: the clock, the peer ports, and one
// script for everything else. All of them, with `up`'s probes, run in one shell session per host (inspectionOrder).

import type { Inventory, NodeSpec } from '../inventory/types.js';
import { render, type Argv } from '../plan/shell.js';
import type { Step } from '../plan/up.js';

/** The fsync probe: as many synchronous writes of this size as etcd's hardware guide's fio recipe uses per WAL entry. */
export const FSYNC_WRITES = 200;
export const FSYNC_BLOCK_BYTES = 2300;
/**
 * The only thing a check creates (and always deletes): a private directory (mktemp -d, mode 0700) named by this
 * prefix and six random characters, in the data path or its nearest existing parent, holding the probe's one file.
 */
export const FSYNC_PROBE_DIR_PREFIX = '.etcd-deploy-fsync.';
export const FSYNC_PROBE_DIR_PATTERN = `${FSYNC_PROBE_DIR_PREFIX}XXXXXX`;
/** TCP connect timeout of the peer-port probe: a LAN answers in well under a millisecond; silence means a filter. */
export const PEER_CONNECT_TIMEOUT_S = 1;

/** Section markers in the facts script's output; parse.ts splits on them. */
export const FACT_SECTIONS = ['user', 'addresses', 'cpus', 'memory', 'path', 'df', 'device', 'listeners', 'systemd', 'containers', 'fsync'] as const;

// Per-write latencies need a clock read inside one process around each write: perl's Time::HiRes does that with no
// process start in the measurement. Timing a separate `dd` per write measures mostly process start-up (ten times the
// real latency on the lab's disk), so without perl only the mean of one dd run is reported, and said to be a mean.
const FSYNC_PERL =
  'my ($f, $n, $b) = @ARGV; sysopen(my $h, $f, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_DSYNC) or die "open $f: $!\\n"; my $z = "\\0" x $b; ' +
  'for (1..$n) { my $t = time; defined(syswrite($h, $z)) or die "write $f: $!\\n"; printf "%.1f\\n", (time - $t) * 1e6 } close $h';

// Each element is one complete shell list; they are joined with '; ' so the script is one line, which keeps the
// printed plan one `$ ` line per command.
const FACTS_SCRIPT = [
  'LC_ALL=C',
  'export LC_ALL',
  'p=$1 n=$2 b=$3',
  'echo "@@ user"',
  'id -un',
  'echo "@@ addresses"',
  'if command -v ip >/dev/null 2>&1; then ip -o addr show; else echo "hostname-I $(hostname -I 2>/dev/null)"; fi',
  'echo "@@ cpus"',
  'nproc 2>/dev/null || getconf _NPROCESSORS_ONLN',
  'echo "@@ memory"',
  "grep '^MemTotal:' /proc/meminfo",
  'echo "@@ path"',
  // The nearest existing directory is where `mkdir -p` would start, and the filesystem the data would land on.
  'd=$p',
  'while [ ! -e "$d" ]; do d=$(dirname "$d"); done',
  'if [ -d "$p" ]; then echo "state dir"; elif [ -e "$p" ]; then echo "state not-a-directory"; else echo "state missing"; fi',
  'echo "existing $d"',
  'if [ -w "$d" ]; then echo "writable yes"; else echo "writable no"; fi',
  'echo "@@ df"',
  'df -Pk "$d"',
  'echo "@@ device"',
  'echo "fstype $(stat -f -c %T "$d")"',
  // st_dev to major:minor as glibc encodes it (major 12 bits at 8, minor 8 bits at 0 plus 12 bits at 20).
  'v=$(stat -c %d "$d")',
  'case $v in ""|*[!0-9]*) v=0 ;; esac',
  's=/sys/dev/block/$(( (v >> 8) & 4095 )):$(( (v & 255) | ((v >> 12) & 1048320) ))',
  'echo "devno ${s##*/}"',
  // A partition has no queue/ of its own: its disk's is one level up.
  'if [ -e "$s" ]; then r=$(readlink -f "$s"); echo "sysfs $r"; if [ -r "$r/queue/rotational" ]; then echo "rotational $(cat "$r/queue/rotational")"; elif [ -r "$r/../queue/rotational" ]; then echo "rotational $(cat "$r/../queue/rotational")"; fi; fi',
  'echo "@@ listeners"',
  'if command -v ss >/dev/null 2>&1; then echo "# ss"; ss -Hltnp; else echo "# proc"; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; fi',
  'echo "@@ systemd"',
  'if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemctl list-units --type=service --state=running --no-legend --plain \'etcd*\' 2>&1; else echo "# not booted with systemd"; fi',
  'echo "@@ containers"',
  "docker ps --no-trunc --format '{{json .}}' 2>&1",
  'echo "exit $?"',
  // Last, as it takes longest: the synchronous writes, on the filesystem the data will land on. They go to a file in
  // a directory mktemp creates fresh (0700, a random name, never one that exists), so nothing the probe finds there,
  // a planted symlink included, is ever opened, truncated or removed; perl opens the file O_EXCL|O_NOFOLLOW besides.
  // The file and the directory go whatever happens: end, failure, Ctrl-C, or a closed channel (HUP, or PIPE on the
  // next write). rmdir, not rm -r: the directory holds nothing else, and nothing else is ever deleted.
  'echo "@@ fsync"',
  't=',
  'trap \'if [ -n "$t" ]; then rm -f "$t/probe"; rmdir "$t"; fi\' EXIT',
  "trap 'exit 129' HUP INT TERM PIPE",
  'echo "dir $d"',
  `if t=$(mktemp -d "$d/${FSYNC_PROBE_DIR_PATTERN}" 2>&1); then f=$t/probe; if command -v perl >/dev/null 2>&1 && perl -MTime::HiRes -MFcntl -e 1 2>/dev/null; then echo "method perl"; perl -MTime::HiRes=time -MFcntl -e '${FSYNC_PERL}' "$f" "$n" "$b" 2>&1; else echo "method dd"; dd if=/dev/zero of="$f" bs="$b" count="$n" oflag=dsync 2>&1; fi; else echo "$t"; t=; false; fi`,
  'echo "exit $?"',
].join('; ');

// Connect to every other member's peer port at once. bash's /dev/tcp under coreutils' timeout distinguishes a RST
// ("Connection refused": the host answered) from silence (exit 124: a filter drops the packets); nc -z -v -w is the
// fallback. An attempt that neither connected nor was refused is tried once more: on a loaded host, starting bash can
// take most of a second, while a filter drops both attempts. Each result is one short printf, so concurrent lines do
// not interleave.
const PEERS_SCRIPT = [
  'p=$1',
  'shift',
  'if command -v bash >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then t=bash; elif command -v nc >/dev/null 2>&1; then t=nc; else echo "tool none"; exit 0; fi',
  'echo "tool $t"',
  `try() { if [ $t = bash ]; then timeout ${PEER_CONNECT_TIMEOUT_S} bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$p" 2>&1; else nc -z -v -w ${PEER_CONNECT_TIMEOUT_S} "$1" "$p" 2>&1; fi; }`,
  `for a in "$@"; do ( o=$(try "$a"); c=$?; case $c:$o in 0:*|*refused*) ;; *) o=$(try "$a"); c=$? ;; esac; printf 'peer %s %s %s\\n' "$a" "$c" "$(printf '%s' "$o" | tr '\\n' ' ')" ) & done`,
  'wait',
].join('; ');

export const checkCommands = {
  /** The host's clock in ns since the epoch (seconds only where date lacks %N). Runs alone, first, to time it well. */
  clock: (): Argv => ['date', '+%s%N'],
  /** Every read in one script (each SSH command costs a process start, and on some hosts a shell's rc files), then the fsync probe. */
  facts: (dataPath: string): Argv => ['sh', '-c', FACTS_SCRIPT, 'check-facts', dataPath, String(FSYNC_WRITES), String(FSYNC_BLOCK_BYTES)],
  peers: (peerPort: number, addresses: readonly string[]): Argv => ['sh', '-c', PEERS_SCRIPT, 'check-peers', String(peerPort), ...addresses],
  /** Asks the registry for the image's manifest without pulling it: does the image exist, can this host reach it. */
  manifest: (image: string): Argv => ['docker', 'manifest', 'inspect', image],
};

/** The check steps of one host, beside the four `up` probes (engine, image, container, data) that checks also read. */
export interface HostCheckSteps {
  clock: Step;
  /** null with a single member: no peer to reach. */
  peers: Step | null;
  /** The host's facts, its running containers, and the fsync probe. */
  facts: Step;
  /** Runs only when the image is not on the host. */
  manifest: Step;
}

function step(host: string, title: string, argv: Argv): Step {
  return { host, title, argv, command: render(argv), changes: false };
}

export function planHostChecks(inventory: Inventory, node: NodeSpec): HostCheckSteps {
  const { cluster } = inventory;
  const h = node.name;
  const others = inventory.nodes.filter((n) => n !== node);
  return {
    clock: step(h, 'clock', checkCommands.clock()),
    peers:
      others.length > 0
        ? step(h, `reach the peer port ${cluster.peerPort} of ${others.map((n) => n.name).join(', ')}`, checkCommands.peers(cluster.peerPort, others.map((n) => n.ip)))
        : null,
    facts: step(
      h,
      `host facts (user, addresses, cpus, memory, data path, disk, listening ports, systemd units, containers), then fsync latency: ${FSYNC_WRITES} synchronous ${FSYNC_BLOCK_BYTES}-byte writes under ${node.dataPath}`,
      checkCommands.facts(node.dataPath),
    ),
    manifest: step(h, `can the host pull ${cluster.image}`, checkCommands.manifest(cluster.image)),
  };
}

/** The check steps in the order they run and print (the manifest step aside: it runs only when the image is missing). */
export function checkStepList(steps: HostCheckSteps): Step[] {
  return [steps.clock, ...(steps.peers ? [steps.peers] : []), steps.facts];
}

/** `up`'s four probes, as plan/up.ts builds them. */
export interface UpProbeSteps {
  engine: Step;
  image: Step;
  container: Step;
  data: Step;
}

/**
 * Everything read from one host before any change, in the order one shell session runs it: the clock first (nothing
 * ahead of it, so the round trip bounds the error), then the peer ports (timing-sensitive, before the host is loaded),
 * then `up`'s four probes, and last the facts script, which ends with the fsync probe, the longest read.
 */
export function inspectionOrder(probes: UpProbeSteps, steps: HostCheckSteps): Step[] {
  return [steps.clock, ...(steps.peers ? [steps.peers] : []), probes.engine, probes.image, probes.container, probes.data, steps.facts];
}
