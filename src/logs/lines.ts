// Pure: container log lines as `docker logs --timestamps` prints them, merged across members in time order and
// prefixed with their member's name. Each line starts with docker's RFC 3339 timestamp (nanoseconds, the host's clock).

import { StringDecoder } from 'node:string_decoder';

export interface LogLine {
  member: string;
  /** docker's timestamp as printed, or '' when the line had none (it then sorts with the line before it). */
  time: string;
  /** Milliseconds since the epoch and the nanoseconds within that second, for ordering. */
  ms: number;
  nanos: number;
  /** The line without docker's timestamp. */
  text: string;
}

const STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}) (.*)$/;

/** Parse one `TIMESTAMP text` line; null when it does not start with a timestamp. */
export function parseStamped(line: string): { time: string; ms: number; nanos: number; text: string } | null {
  const m = STAMP.exec(line);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(ms)) return null;
  return { time: line.slice(0, line.length - m[4]!.length - 1), ms, nanos: Number((m[2] ?? '').padEnd(9, '0')), text: m[4]! };
}

/** One member's `docker logs --timestamps` output as lines; a line without a timestamp takes the previous line's. */
export function parseLog(member: string, output: string): LogLine[] {
  const lines: LogLine[] = [];
  let last = { time: '', ms: 0, nanos: 0 };
  for (const raw of output.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') continue;
    const stamped = parseStamped(line);
    if (stamped) last = stamped;
    lines.push({ member, time: stamped ? stamped.time : '', ms: last.ms, nanos: last.nanos, text: stamped ? stamped.text : line });
  }
  return lines;
}

/**
 * Every member's lines in one list, oldest first. Stable: equal times keep the order of `logs` (members in inventory
 * order) and each member's own order, so a member's lines never change places among themselves.
 */
export function mergeByTime(logs: readonly (readonly LogLine[])[]): LogLine[] {
  const all = logs.flatMap((lines, m) => lines.map((line, i) => ({ line, m, i })));
  all.sort((a, b) => a.line.ms - b.line.ms || a.line.nanos - b.line.nanos || a.m - b.m || a.i - b.i);
  return all.map((x) => x.line);
}

/** `etcd-1 | 2026-...Z text`, the member name padded to `width` so the columns line up. */
export function prefixed(line: Pick<LogLine, 'member' | 'time' | 'text'>, width: number): string {
  return `${line.member.padEnd(width)} | ${line.time ? `${line.time} ` : ''}${line.text}`;
}

/** Cuts a byte stream into complete lines; a character split across two chunks is decoded whole. */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';

  push(chunk: Buffer): string[] {
    const text = this.rest + this.decoder.write(chunk);
    const parts = text.split('\n');
    this.rest = parts.pop() ?? '';
    return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }

  /** What is left after the last newline, when the stream ends. */
  end(): string[] {
    const last = this.rest + this.decoder.end();
    this.rest = '';
    return last === '' ? [] : [last];
  }
}
