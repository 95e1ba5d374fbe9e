// Summaries of timing samples. Medians, because one run disturbed by another engineer's build must not move the result.

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new Error('median of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(samples: readonly number[]): Summary {
  return { n: samples.length, median: median(samples), min: Math.min(...samples), max: Math.max(...samples) };
}

/** Milliseconds as seconds with 3 decimals, the unit the issue states its figures in. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

export function ratio(numerator: number, denominator: number): string {
  return (numerator / denominator).toFixed(2);
}
