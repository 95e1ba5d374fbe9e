// How far a long transfer is: bytes done of the total, the rate over the last few seconds, and the time left, as one
// short line. Pure apart from the clock, which is passed in. Transfers report every chunk; `ProgressLine` turns that
// into a line at most every `intervalMs` (often for a terminal's progress line, rarely for plain CI logs).

const KIB = 1024;
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** 999 B, 1.5 KiB, 12.3 MiB, 2.50 GiB: three significant digits from KiB up. */
export function formatBytes(bytes: number): string {
  if (bytes < KIB) return `${Math.max(0, Math.round(bytes))} B`;
  let value = bytes;
  let unit = 0;
  while (value >= KIB && unit < UNITS.length - 1) {
    value /= KIB;
    unit++;
  }
  // 1023.96 KiB would print as "1024 KiB"; say 1.00 MiB instead.
  if (value >= 999.5 && unit < UNITS.length - 1) {
    value /= KIB;
    unit++;
  }
  const digits = value < 10 ? 2 : value < 100 ? 1 : 0;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** 7 s, 2 min 05 s, 1 h 02 min. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

export interface ProgressFigures {
  done: number;
  /** null when the size is not known. */
  total: number | null;
  /** Bytes per second; null until there is a measure. */
  rate: number | null;
}

/** `1.20 GiB of 2.50 GiB (48%), 180 MiB/s, 7 s left`; parts that are not known yet are left out. */
export function describeProgress({ done, total, rate }: ProgressFigures): string {
  const parts: string[] = [];
  if (total !== null && total > 0) {
    parts.push(`${formatBytes(done)} of ${formatBytes(total)} (${Math.floor((Math.min(done, total) / total) * 100)}%)`);
  } else {
    parts.push(formatBytes(done));
  }
  if (rate !== null && rate > 0) {
    parts.push(`${formatBytes(rate)}/s`);
    if (total !== null && total > done) parts.push(`${formatDuration((total - done) / rate)} left`);
  }
  return parts.join(', ');
}

/** How long the rate looks back: long enough to smooth bursts, short enough to follow a change of speed. */
const RATE_WINDOW_MS = 5000;

/** Bytes over time, with the rate over the last RATE_WINDOW_MS (from the start until that much time has passed). */
export class TransferMeter {
  private done = 0;
  private readonly samples: { at: number; done: number }[];

  constructor(
    readonly total: number | null,
    private readonly now: () => number = Date.now,
  ) {
    this.samples = [{ at: now(), done: 0 }];
  }

  add(bytes: number): void {
    this.done += bytes;
    const at = this.now();
    this.samples.push({ at, done: this.done });
    // Keep one sample older than the window, so the window is always fully covered.
    while (this.samples.length > 2 && this.samples[1]!.at <= at - RATE_WINDOW_MS) this.samples.shift();
  }

  get bytes(): number {
    return this.done;
  }

  figures(): ProgressFigures {
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const ms = last.at - first.at;
    const rate = ms > 0 ? ((last.done - first.done) / ms) * 1000 : null;
    return { done: this.done, total: this.total, rate };
  }
}

/**
 * Feeds a meter and emits a line at most every `intervalMs` (the first after one interval, so short transfers stay
 * quiet), plus once at the end with `finish()` when anything was emitted before.
 */
export class ProgressLine {
  private readonly meter: TransferMeter;
  private lastEmit: number;
  private emitted = false;

  constructor(
    total: number | null,
    private readonly intervalMs: number,
    private readonly emit: (line: string) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.meter = new TransferMeter(total, now);
    this.lastEmit = now();
  }

  /** Pass as a transfer's `onBytes`. */
  readonly update = (bytes: number): void => {
    this.meter.add(bytes);
    const at = this.now();
    if (at - this.lastEmit < this.intervalMs) return;
    this.lastEmit = at;
    this.emitted = true;
    this.emit(describeProgress(this.meter.figures()));
  };

  finish(): void {
    if (this.emitted) this.emit(describeProgress(this.meter.figures()));
  }
}
