// Pure: a status report narrowed to the members `--limit` names. etcd's view (leader, cluster ID, strangers, cluster
// problems) is the whole cluster's and stays; the per-member rows, counts and problems are the named members' only.

import type { StatusReport } from './model.js';

export function limitStatusReport(report: StatusReport, names: readonly string[], lockKeeper: string): StatusReport {
  const keep = (name: string): boolean => names.includes(name);
  const dropped = new Set(report.members.filter((m) => !keep(m.name)).flatMap((m) => m.problems.map((p) => `${m.name}: ${p}`)));
  const members = report.members.filter((m) => keep(m.name));
  const problems = report.problems.filter((p) => !dropped.has(p));
  return {
    ...report,
    ok: problems.length === 0,
    members,
    healthy: members.filter((m) => m.etcd.healthy).length,
    total: members.length,
    // The lock lives on a host that was not contacted: say so rather than calling it unreachable.
    lock: keep(lockKeeper) ? report.lock : { state: 'unknown', error: `not read: ${lockKeeper}, whose host keeps the lock, is not in --limit` },
    problems,
    warnings: report.warnings.filter((w) => !report.members.some((m) => !keep(m.name) && w.startsWith(`${m.name}: `))),
  };
}
