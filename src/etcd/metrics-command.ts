// Reading a member's /metrics on its own host, with whatever HTTP client the host has: never through the container,
// whose official images have no shell and no HTTP client. Commands are data; values are positional parameters.

import type { Argv } from '../plan/shell.js';

/** Seconds a metrics read may take: the endpoint answers in milliseconds, silence means it is not there. */
export const METRICS_TIMEOUT_S = 5;

// curl, then wget (GNU or busybox's applet), then busybox itself, then bash's /dev/tcp (a raw HTTP/1.0 request: the
// response headers come first, and the parser skips lines that are not samples). The time limit is coreutils'
// `timeout` rather than wget's -T: busybox 1.35's wget (Debian 12's busybox-static) crashes with SIGSEGV on -T.
const FETCH = [
  'url=$1 host=$2 port=$3 t=$4 to=',
  'if command -v timeout >/dev/null 2>&1; then to="timeout $t"; fi',
  'if command -v curl >/dev/null 2>&1; then exec curl -sS --max-time "$t" "$url"; fi',
  'if command -v wget >/dev/null 2>&1; then exec $to wget -q -O - "$url"; fi',
  'if command -v busybox >/dev/null 2>&1; then exec $to busybox wget -q -O - "$url"; fi',
  'if command -v bash >/dev/null 2>&1; then',
  '  exec $to bash -c \'exec 3<>"/dev/tcp/$0/$1" && printf "GET /metrics HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n" "$0" >&3 && cat <&3\' "$host" "$port"',
  'fi',
  'echo "no curl, wget, busybox or bash on this host to read $url" >&2; exit 127',
].join('\n');

/** `sh -c FETCH metrics URL HOST PORT TIMEOUT`: prints the member's /metrics. */
export function fetchMetrics(ip: string, port: number, urlHost: string): Argv {
  return ['sh', '-c', FETCH, 'metrics', `http://${urlHost}:${port}/metrics`, ip, String(port), String(METRICS_TIMEOUT_S)];
}
