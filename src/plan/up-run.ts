// Pure: what one `up` run does, from its plan (plan/up.ts: every host's probes and conditional steps), the membership
// plan (plan/membership.ts) and what observing found on each host (observe/up.ts). The stages the executor runs
// (engine/execute.ts), in order:
//   1. the verdict on the inspection (a row per host): refuse, changing nothing, or go on;
//   2. (tls: pki) the cluster PKI, made or checked locally;
//   3. each membership change, one at a time (a task stage each, behind its own quorum gates);
//   4. 'Start members': each host's apply steps whose condition holds, hosts at once;
//   5. the health wait, with the member list read in the same session.
// A host that a membership change of this run starts (a member added or replaced) is the change's: it is not started
// again, and not counted by the mixed-data rule; its container and data are read as they will be after the change.

import { checkFailure, checkLine } from '../check/format.js';
import type { CheckResult } from '../check/types.js';
import type { Executed } from '../engine/execute.js';
import type { Member } from '../etcd/parse.js';
import type { HostFailure } from '../errors.js';
import type { UpHostFinding } from '../observe/up.js';
import { mixedDataRefusal, type HostDecision } from '../phases/up-decide.js';
import type { MemberAdoption } from './adopt.js';
import { healthSteps, inspectionSteps } from './format.js';
import { pkiStep } from './json.js';
import { doneOf, membershipStages, type MembershipOutcome, type MembershipPlan } from './membership.js';
import type { Refusal, Stage } from './stages.js';
import type { ApplyStep, HostUpPlan, UpPlan } from './up.js';

export interface UpRunInput {
  plan: UpPlan;
  /** The membership changes (and warnings); its refusals are the caller's to throw, before this is planned. */
  membership: MembershipPlan;
  /** etcd answered: a running cluster (containers are compared as its members). */
  running: boolean;
  /** Per host that was read; a host missing here was not reached (dry-run only: a run needs every host). */
  findings: ReadonlyMap<string, UpHostFinding>;
  /** --yes: adopt the runbook's members, upgrade on an image change alone. */
  confirmed: boolean;
  healthDeadlineMs: number;
  gateDeadlineMs: number;
}

export interface UpRun {
  stages: Stage[];
  /** Why the run must change nothing, or null (the verdict stage throws it once the lock is held). */
  refusal: Refusal | null;
  /** Members the runbook started, to adopt after the stages (with --yes). */
  adopt: MemberAdoption[];
  /** Members on another image, to upgrade after the stages as `rolling` does (with --yes). */
  upgrade: { host: string; from: string; to: string }[];
  /** Hosts a membership change of this run starts. */
  joining: ReadonlySet<string>;
  /** Preflight checks that warned (shown in the host's row; they do not stop the run). */
  warnings: CheckResult[];
  /** Per host, the steps 'Start members' runs there (the apply steps whose condition holds). */
  start: ReadonlyMap<string, readonly ApplyStep[]>;
}

type Ok = Extract<HostDecision, { ok: true }>;

/** The titles of the stages, as progress rows and in `Executed` (engine/execute.ts). */
export const INSPECT_TITLE = 'Inspect every host before changing any';
export const START_TITLE = 'Start members';
export const healthTitle = (n: number): string => `Wait until all ${n} members are healthy`;

export function planUpRun(input: UpRunInput): UpRun {
  const { plan, membership } = input;
  const { inventory } = plan;
  const names = new Set(inventory.nodes.map((n) => n.name));
  const joining = new Set(membership.changes.map((c) => c.member).filter((m) => names.has(m)));
  const membershipChanged = membership.changes.length > 0;

  // Each host: its problems (up's refusal, then every failing check) and its row.
  const failures: HostFailure[] = [];
  const notReady = new Set<string>();
  const decided = new Map<string, Ok>();
  const rows: { title: string; failed: boolean }[] = [];
  const checkWarnings: CheckResult[] = [];
  for (const hp of plan.hosts) {
    const f = input.findings.get(hp.node.name);
    if (!f) continue;
    const joins = joining.has(hp.node.name);
    const { problems, warnings, summary } = judge(hp, f, joins);
    checkWarnings.push(...warnings);
    const warned = warnings.length ? `; warn: ${warnings.map(checkLine).join('; ')}` : '';
    if (problems.length === 0 && (f.decision.ok || joins)) {
      if (f.decision.ok && !joins) decided.set(hp.node.name, f.decision);
      const engine = f.decision.ok ? `docker ${f.decision.engineVersion}, ` : '';
      rows.push({ title: `${hp.node.name}: ${engine}${summary}${warned}`, failed: false });
    } else {
      failures.push(...problems);
      notReady.add(hp.node.name);
      rows.push({ title: `${hp.node.name}: ${problems.map((p) => p.message).join('; ')}${warned}`, failed: true });
    }
  }

  const staying = plan.hosts.filter((hp) => !joining.has(hp.node.name));
  const adopt = staying.flatMap((hp) => {
    const changes = decided.get(hp.node.name)?.adopt;
    return changes ? [{ host: hp.node.name, changes }] : [];
  });
  const upgrade = staying.flatMap((hp) => {
    const u = decided.get(hp.node.name)?.upgrade;
    return u ? [{ host: hp.node.name, from: u.from, to: u.to }] : [];
  });
  const refusal = refusalOf();

  function refusalOf(): Refusal | null {
    if (failures.length > 0) {
      const order = plan.hosts.map((h) => h.node.name);
      failures.sort((a, b) => order.indexOf(a.host) - order.indexOf(b.host));
      return { kind: 'hosts', summary: `up changed nothing: ${notReady.size} of ${plan.hosts.length} hosts are not ready`, failures };
    }
    if (decided.size < staying.length) return null; // a dry-run that could not read every host: no verdict
    const mixed = mixedDataRefusal(staying.map((hp) => decided.get(hp.node.name)!));
    if (mixed) return { kind: 'operation', message: mixed };
    if (adopt.length > 0 && !input.confirmed) {
      return {
        kind: 'usage',
        message:
          `up changed nothing: ${adopt.map((a) => a.host).join(', ')} ${adopt.length === 1 ? 'runs' : 'run'} the etcd container the runbook started by hand. ` +
          "up can adopt them: restart each, one at a time behind a quorum gate, onto the inventory's spec on its own data (keys kept; a snapshot first). " +
          `\`etcd-deploy up --dry-run -i ${inventory.file}\` shows every step; \`etcd-deploy up --yes\` adopts (docs/runbook-users.md)`,
      };
    }
    return upgradeRefusal();
  }

  /**
   * An image change is an upgrade only on a running cluster where nothing else differs (issue 14): then up refuses
   * without --yes, and with it changes nothing itself (the upgrade runs after it). With any other difference, a
   * membership change in the same run, or no running cluster, the image change is drift, as before.
   */
  function upgradeRefusal(): Refusal | null {
    const decisions = staying.map((hp) => decided.get(hp.node.name)!);
    const upgrading = decisions.filter((d) => d.upgrade);
    if (upgrading.length === 0) return null;
    const other = decisions.some((d) => !d.upgrade && (d.conditions.size > 0 || d.adopt));
    if (other || !input.running || membershipChanged) {
      return { kind: 'hosts', summary: `up changed nothing: ${upgrading.length} of ${plan.hosts.length} hosts are not ready`, failures: upgrading.map((d) => d.upgrade!.drift) };
    }
    if (input.confirmed) return null;
    const { from, to } = upgrading[0]!.upgrade!;
    return {
      kind: 'usage',
      message:
        `up changed nothing: ${upgrading.map((d) => d.host).join(', ')} ${upgrading.length === 1 ? 'runs' : 'run'} ${from}, the inventory names ${to}: an etcd version change. ` +
        "up can upgrade them as `rolling` does: etcd's version rules checked first, a snapshot, then each member restarted on the new image, one at a time behind a quorum gate, the leader last. " +
        `\`etcd-deploy up --dry-run -i ${inventory.file}\` shows every step; \`etcd-deploy up --yes\` upgrades (docs/upgrading.md)`,
    };
  }

  // What 'Start members' runs on each host: the steps whose condition holds. A host that was not read (a dry-run that
  // could not reach it) shows every conditional step, each with its condition.
  const start = new Map<string, readonly ApplyStep[]>();
  for (const hp of staying) {
    const d = decided.get(hp.node.name);
    start.set(hp.node.name, d ? hp.apply.filter((s) => d.conditions.has(s.when)) : input.findings.has(hp.node.name) ? [] : hp.apply);
  }

  const n = plan.hosts.length;
  const stages: Stage[] = [
    {
      kind: 'task',
      title: INSPECT_TITLE,
      task: { type: 'verdict', refusal },
      // The reads ran while planning (observe/up.ts), on every host at once; etcd's reads rode in the first host's.
      steps: inspectionSteps(plan),
      rows,
    },
    ...(inventory.cluster.tls === 'pki' ? [{ kind: 'task' as const, title: 'Create or check the cluster PKI', task: { type: 'pki' as const, inventory }, steps: [pkiStep(inventory)] }] : []),
    ...membershipStages(inventory, membership, input.gateDeadlineMs),
    { kind: 'hosts', title: START_TITLE, work: staying.map((hp) => ({ host: hp.node.name, steps: start.get(hp.node.name)! })) },
    {
      kind: 'task',
      title: healthTitle(n),
      task: {
        type: 'health',
        host: plan.health.host,
        argv: plan.health.argv,
        endpoints: plan.clientEndpoints,
        deadlineMs: input.healthDeadlineMs,
        containerName: inventory.cluster.containerName,
        peerPort: inventory.cluster.peerPort,
        members: { host: plan.members.host, command: plan.members.command },
      },
      steps: healthSteps(plan),
    },
  ];
  return { stages, refusal, adopt, upgrade, joining, start, warnings: checkWarnings };
}

/**
 * A host's problems (up's refusal, then every failing check; a check that judged the same probe as the refusal left
 * out: the refusal already says it), the warnings to show, and what up will do there. A host a membership change
 * starts is the change's: only what keeps any member from running there (the engine, the checks of the host itself)
 * counts, not its container or data as they are before the change.
 */
function judge(hp: HostUpPlan, f: UpHostFinding, joining: boolean): { problems: HostFailure[]; warnings: CheckResult[]; summary: string } {
  const { decision } = f;
  const probes = hp.probes;
  if (joining) {
    const changed = new Set([probes.container.command, probes.data.command]);
    const problems: HostFailure[] = !decision.ok && decision.failure.command === probes.engine.command ? [decision.failure] : [];
    for (const r of f.results) if (r.status === 'fail' && !changed.has(r.command)) problems.push(checkFailure(r));
    const warnings = f.results.filter((r) => r.status === 'warn' && !changed.has(r.command));
    return { problems, warnings, summary: 'started by its membership change' };
  }
  const problems: HostFailure[] = decision.ok ? [] : [decision.failure];
  // A runbook container to adopt differs from the spec by design: the container check's drift is the adoption.
  const refused = decision.ok ? (decision.adopt || decision.upgrade ? probes.container.command : null) : decision.failure.command;
  for (const r of f.results) if (r.status === 'fail' && r.command !== refused) problems.push(checkFailure(r));
  const adopting = decision.ok && (decision.adopt !== undefined || decision.upgrade !== undefined);
  const warnings = f.results.filter((r) => r.status === 'warn' && !(adopting && r.command === probes.container.command));
  return { problems, warnings, summary: decision.ok ? decision.summary : '' };
}

/** What up did: its own starts (not the membership changes' steps), the members it listed, the membership changes done. */
export interface UpOutcome {
  /** Hosts where up itself started something, with what it did. */
  changed: { host: string; actions: string[] }[];
  unchanged: string[];
  members: Member[];
  clientEndpoints: readonly string[];
  membership: MembershipOutcome;
}

export function upOutcome(plan: UpPlan, run: UpRun, stages: readonly Stage[], executed: Executed): UpOutcome {
  const changed = executed.changed
    .map((c) => ({ host: c.host, actions: c.actions.filter((a) => (run.start.get(c.host) ?? []).some((s) => s.title === a)) }))
    .filter((c) => c.actions.length > 0);
  return {
    changed,
    unchanged: plan.hosts.map((hp) => hp.node.name).filter((h) => !changed.some((c) => c.host === h)),
    members: (executed.values.get(healthTitle(plan.hosts.length)) as Member[] | undefined) ?? [],
    clientEndpoints: plan.clientEndpoints,
    membership: doneOf(stages, executed.values),
  };
}
