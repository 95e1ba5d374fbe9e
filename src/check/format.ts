// The check results for people (a table, then what to do about each warning and failure), for machines (--json), and
// as HostFailure records when they stop a run. Pure.

import type { HostFailure } from '../errors.js';
import { countByStatus, type CheckReport, type CheckResult, type CheckStatus } from './types.js';

/** A failing check as a host failure: what `up` and `check` hand to HostsError. Extra fields reach --json as they are. */
export interface CheckFailure extends HostFailure {
  check: string;
  measured: string;
  threshold: string;
  advice: string;
}

export function checkFailure(r: CheckResult): CheckFailure {
  return {
    host: r.host,
    command: r.command,
    exitCode: r.exitCode,
    stderrTail: r.stderrTail,
    message: `${r.check}: ${r.measured} (threshold: ${r.threshold}). ${r.advice}`,
    check: r.check,
    measured: r.measured,
    threshold: r.threshold,
    advice: r.advice,
  };
}

/** One line for a warning shown during `up`. */
export function checkLine(r: CheckResult): string {
  return `${r.check} ${r.measured} (${r.threshold})`;
}

export interface Colors {
  red: (s: string) => string;
  yellow: (s: string) => string;
  green: (s: string) => string;
  bold: (s: string) => string;
}

const plain: Colors = { red: (s) => s, yellow: (s) => s, green: (s) => s, bold: (s) => s };

const MEASURED_WIDTH = 72;

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

export function formatCheckReport(report: CheckReport, colors: Colors = plain): string {
  const { results } = report;
  const paint: Record<CheckStatus, (s: string) => string> = { pass: colors.green, warn: colors.yellow, fail: colors.red, skip: (s) => s };
  const hostWidth = Math.max(4, ...results.map((r) => r.host.length));
  const checkWidth = Math.max(5, ...results.map((r) => r.check.length));
  const measuredWidth = Math.min(MEASURED_WIDTH, Math.max(8, ...results.map((r) => r.measured.length)));
  const out: string[] = [];
  out.push(colors.bold(`${'HOST'.padEnd(hostWidth)}  ${'CHECK'.padEnd(checkWidth)}  STATUS  ${'MEASURED'.padEnd(measuredWidth)}  THRESHOLD`));
  let previous = '';
  for (const r of results) {
    const host = r.host === previous ? '' : r.host;
    previous = r.host;
    out.push(`${host.padEnd(hostWidth)}  ${r.check.padEnd(checkWidth)}  ${paint[r.status](r.status.padEnd(6))}  ${clip(r.measured, measuredWidth).padEnd(measuredWidth)}  ${r.threshold}`);
  }
  const notable = results.filter((r) => r.status !== 'pass');
  if (notable.length > 0) {
    out.push('');
    for (const r of notable) {
      out.push(`${paint[r.status](r.status)} ${r.host} ${r.check}: ${r.measured}`);
      out.push(`  threshold: ${r.threshold}`);
      if (r.advice) out.push(`  what to do: ${r.advice}`);
    }
  }
  out.push('');
  out.push(summaryLine(report));
  return out.join('\n');
}

export function summaryLine(report: CheckReport): string {
  const c = countByStatus(report.results);
  const hosts = new Set(report.results.map((r) => r.host)).size;
  const failing = new Set(report.results.filter((r) => r.status === 'fail').map((r) => r.host)).size;
  const counts = `${c.pass} passed, ${c.warn} warned, ${c.fail} failed${c.skip ? `, ${c.skip} skipped` : ''}`;
  const verdict = c.fail > 0 ? `checks failed on ${failing} of ${hosts} hosts` : `all ${hosts} hosts are fit${c.warn ? ' (with warnings)' : ''}`;
  return `${verdict}: ${counts} in ${(report.elapsedMs / 1000).toFixed(1)} s`;
}

export function checkReportJson(report: CheckReport): unknown {
  const c = countByStatus(report.results);
  return {
    ok: c.fail === 0,
    counts: c,
    elapsedMs: Math.round(report.elapsedMs),
    results: report.results.map((r) => ({
      host: r.host,
      check: r.check,
      status: r.status,
      measured: r.measured,
      threshold: r.threshold,
      advice: r.advice || undefined,
      command: r.command || undefined,
    })),
  };
}
