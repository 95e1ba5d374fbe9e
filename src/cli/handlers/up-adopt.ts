// `up` on a cluster the runbook started by hand: the adoption's dry-run and its run (plan/adopt.ts, phases/adopt.ts).
// Loaded only when up finds such a member, or for --dry-run.

import type { Inventory } from '../../inventory/types.js';
import { observeCluster } from '../../phases/cluster-view.js';
import { traced } from '../../phases/exec.js';
import { adoptionEngine, planAdoptionRun, probeAdoptions, runAdoption } from '../../phases/adopt.js';
import { listrOptions } from '../../phases/progress.js';
import { adoptionSummary, type MemberAdoption } from '../../plan/adopt.js';
import { formatRollingPlan } from '../../plan/format-rolling.js';
import { planSteps } from '../../engine/execute.js';
import type { UpPlan } from '../../plan/up.js';
import type { FileHost } from '../../ssh/connection.js';
import type { UpOptions } from '../commands/up.js';
import { progressFor } from '../options.js';
import { info, verboseTracer } from '../output.js';

/** What the adoption adds to up's output: text, keys of the JSON document, and the audit line. */
export interface AdoptionSection {
  /** Dry-run only: one line first, so the adoption is not missed below the plan for new hosts. */
  headline?: string;
  text: string;
  json: Record<string, unknown>;
  summary: string;
}

/**
 * `up --dry-run`: read the hosts up already connected to (read-only, no lock) for members the runbook started, and
 * plan their adoption. null when there is none.
 */
export async function adoptionDryRun(inventory: Inventory, plan: UpPlan, hosts: ReadonlyMap<string, FileHost>, argv: UpOptions): Promise<AdoptionSection | null> {
  {
    const findings = await probeAdoptions(plan, hosts);
    const refused = findings.flatMap((f) => (f && 'refused' in f ? [`${f.host}: ${f.refused}`] : []));
    const adopt: MemberAdoption[] = findings.flatMap((f) => (f && 'adopt' in f ? [{ host: f.host, changes: f.adopt }] : []));
    if (adopt.length === 0) {
      for (const r of refused) info(`note: up would refuse ${r}`);
      return null;
    }
    const run = await planAdoptionRun(inventory, hosts, adopt);
    const text = [
      'Then, once every member is healthy (up changes nothing before it; without --yes it stops here):',
      '',
      adoptionSummary(adopt),
      ...(refused.length ? ['', 'But up would refuse, changing nothing, because of:', ...refused.map((r) => `  ${r}`)] : []),
      '',
      formatRollingPlan(run.plan, run.snapshot),
    ].join('\n');
    return {
      headline: `up found the etcd container the hand-run runbook started on ${adopt.map((a) => a.host).join(', ')}: with --yes it adopts ${adopt.length === 1 ? 'it' : 'them'} (the adoption is planned after the plan below).`,
      text,
      json: {
        adopt: adopt.map((a) => ({ member: a.host, changes: a.changes })),
        ...(refused.length ? { refused } : {}),
        adoption: { snapshot: { host: run.snapshot.host, path: run.snapshot.localPath }, steps: planSteps(adoptionEngine(inventory, run, argv['health-timeout'] * 1000)) },
      },
      summary: `would adopt ${adopt.map((a) => a.host).join(', ')}`,
    };
  }
}

/** Adopt the runbook's members over the run's connections (the cluster lock held); up found the cluster healthy. */
export async function adoptMembers(inventory: Inventory, raw: ReadonlyMap<string, FileHost>, adopt: readonly MemberAdoption[], argv: UpOptions): Promise<AdoptionSection> {
  const trace = verboseTracer(argv.verbose);
  const hosts = new Map([...raw].map(([n, h]) => [n, traced(h, trace)]));
  info(adoptionSummary(adopt));
  const run = await planAdoptionRun(inventory, hosts, adopt);
  const mode = progressFor(argv);
  const outcome = await runAdoption(inventory, hosts, run, { listr: listrOptions(mode), progress: mode, gateDeadlineMs: argv['health-timeout'] * 1000 });
  const after = await observeCluster(inventory, hosts);
  const members = after.members.map((m) => ({ name: m.node.name, id: m.memberId, healthy: m.healthy, leader: m.isLeader }));
  return {
    text: [
      `Adopted ${outcome.rolled.length} member(s) the runbook started: ${outcome.rolled.join(', ')}; each now runs the inventory's spec on its own data.`,
      ...(outcome.snapshot ? [`Snapshot taken first: ${outcome.snapshot.path} (${outcome.snapshot.status.totalKey} keys, revision ${outcome.snapshot.status.revision})`] : []),
      ...members.map((m) => `  ${m.name.padEnd(10)} ${m.id ?? '-'}  ${m.healthy ? 'healthy' : 'UNHEALTHY'}${m.leader ? '  leader' : ''}`),
    ].join('\n'),
    json: {
      adopted: outcome.rolled,
      snapshot: outcome.snapshot ? { path: outcome.snapshot.path, sha256: outcome.snapshot.sha256, ...outcome.snapshot.status } : null,
    },
    summary: `adopted ${outcome.rolled.join(', ')} (started by the runbook)`,
  };
}
