// The task runners: what the executor does for each kind of task a plan names (plan/stages.ts TaskSpec). Each one
// reports through the stage's row (its output line and final title) and fails with a typed error carrying the host,
// command, exit code and stderr of what failed.

import { waitHealthyThen } from '../etcd/health.js';
import { parseMemberList, type Member } from '../etcd/parse.js';
import { info } from '../cli/output.js';
import { regularFileSize } from '../local-file.js';
import { HostsError, OperationError, UsageError } from '../errors.js';
import { mustRun, StepFailed } from '../phases/exec.js';
import { runMembershipChange } from '../phases/membership.js';
import { delayUnlessInterrupted, runSignal } from '../ssh/interrupt.js';
import { observeCluster } from '../phases/cluster-view.js';
import { defragPlanFor, defragTurn, finishRecovery, healthGate, nospaceAlarms, runCompact, runDefrag } from '../phases/maintenance.js';
import { formatDefragPlan } from '../plan/defrag.js';
import { checkSpace, runChecks } from '../phases/preconditions.js';
import { runRollTurn } from '../phases/roll-turn.js';
import { takeSnapshot } from '../phases/snapshot.js';
import type { Refusal, TaskSpec } from '../plan/stages.js';
import type { FileHost } from '../ssh/connection.js';
import { ProgressLine } from '../ssh/transfer-progress.js';

export interface TaskContext {
  hosts: ReadonlyMap<string, FileHost>;
  /** A line under the stage's row (the phase a snapshot is in, a transfer's progress). */
  output: (line: string) => void;
  /** How often to show a progress line, in ms; 0 when progress is not shown. */
  progressIntervalMs: number;
  /**
   * A task that reports each change as it makes it (a member's turn, whose conditional steps may not run) calls this;
   * the run's report then lists exactly those, a failed task's included, instead of the stage's changing steps.
   */
  changed?: (host: string, title: string) => void;
}

/** What a task hands back: its row's final title, and a value for the command's result (a snapshot's checksum). */
export interface TaskOutcome {
  title?: string;
  value?: unknown;
}

/** Run one task. */
export async function runTask(task: TaskSpec, ctx: TaskContext): Promise<TaskOutcome> {
  switch (task.type) {
    case 'snapshot': {
      const r = await takeSnapshot(ctx.hosts.get(task.plan.host)!, task.plan, ctx.output, { progressIntervalMs: ctx.progressIntervalMs });
      return { title: `Snapshot saved: ${r.path} (${r.status.totalKey} keys, revision ${r.status.revision}, ${r.bytes} bytes)`, value: r };
    }
    case 'pki': {
      // Loaded only for a TLS cluster: the X.509 library is a third of a command's start-up.
      const { ensurePki, pkiSummary } = await import('../pki/store.js');
      const report = await ensurePki(task.inventory, { now: new Date(), ...(task.rotate ? { rotate: true } : {}) });
      const summary = pkiSummary(report);
      info(summary);
      return { title: `Cluster PKI ready: ${summary.split('\n')[0]}`, value: report };
    }
    case 'checks': {
      const size = task.restore ? regularFileSize(task.restore, 'snapshot') : 0;
      const line = task.restore && ctx.progressIntervalMs > 0 ? new ProgressLine(size, ctx.progressIntervalMs, ctx.output) : null;
      const checked = await runChecks(task.checks, task.discard, ctx.hosts, task.restore, line ? { onBytes: line.update } : {});
      line?.finish();
      if (!checked) return {};
      info(`Snapshot to restore: ${checked.status.totalKey} keys, revision ${checked.status.revision}, SHA-256 ${checked.sha256}, on every host`);
      return { title: `Push ${task.restore} to every host: ${checked.bytes} bytes on ${checked.hosts} host(s) at once, SHA-256 ${checked.sha256} and snapshot status checked on each`, value: checked };
    }
    case 'defrag-turn': {
      const r = await defragTurn(task.inventory, ctx.hosts.get(task.via)!, task.turn, ctx.output, task.tolerateAlarms);
      return { title: `Defragmented ${r.name}: blocked ${(r.blockedMs / 1000).toFixed(2)} s${r.leaderMovedTo ? ` (leadership moved to ${r.leaderMovedTo} first)` : ''}`, value: r };
    }
    case 'health-gate': {
      await healthGate(task.inventory, ctx.hosts.get(task.via)!, task.before, task.tolerateAlarms);
      return { title: 'Every member healthy' };
    }
    case 'compact': {
      const r = await runCompact(task.inventory, ctx.hosts.get(task.via)!, task.keep);
      return { title: r.compactedTo === null ? `Nothing to compact at revision ${r.revision}` : `Compacted history before revision ${r.compactedTo}`, value: r };
    }
    case 'nospace-check': {
      const alarms = await nospaceAlarms(task.inventory, ctx.hosts.get(task.via)!, task.force);
      return { title: `Alarms: ${alarms.length ? alarms.map((a) => `${a.alarm} on member ${a.memberId}`).join(', ') : 'none (--force)'}`, value: alarms };
    }
    case 'recover-defrag': {
      // Sizes after the compaction: every member (--all), in the safe order, through the member that answers now.
      const fresh = await observeCluster(task.inventory, ctx.hosts);
      if (fresh.via === null) throw new OperationError('no member answered etcdctl after the compaction; nothing more was changed');
      const plan = defragPlanFor(fresh, true, undefined, true);
      info(formatDefragPlan(plan));
      const results = await runDefrag(task.inventory, ctx.hosts.get(fresh.via)!, plan, ctx.output, true);
      return { title: `Defragmented ${results.length} member(s)`, value: results };
    }
    case 'recover-finish': {
      await finishRecovery(task.inventory, ctx.hosts.get(task.via)!);
      return { title: 'Alarms disarmed; a write succeeded' };
    }
    case 'space': {
      await checkSpace(task.reads, ctx.hosts, task);
      return { title: `Free space checked on ${task.reads.length} host(s): ${task.needed} bytes free on each` };
    }
    case 'roll-turn': {
      const name = await runRollTurn(task, ctx.hosts, ctx.output, ctx.changed);
      return { title: `${name} (${task.index}/${task.total}): ${task.mode} done, cluster healthy and in agreement`, value: name };
    }
    case 'health': {
      const n = task.endpoints.length;
      // The member list rides in the same session as the poll that finds the cluster healthy.
      const sameHost = task.members !== undefined && task.members.host === task.host;
      const { then } = await waitHealthyThen({
        host: ctx.hosts.get(task.host)!,
        argv: task.argv,
        expectedEndpoints: [...task.endpoints],
        deadlineMs: task.deadlineMs,
        containerName: task.containerName,
        peerPort: task.peerPort,
        // After Ctrl-C the poll stops at once instead of waiting out the health deadline.
        sleep: (ms: number) => delayUnlessInterrupted(ms, runSignal),
        onProgress: (healthy: number, total: number) => ctx.output(`${healthy}/${total} healthy`),
        ...(sameHost ? { then: task.members!.command } : {}),
      });
      if (!task.members) return { title: `Every member healthy (${n} of ${n})` };
      let members: Member[];
      if (then && then.code === 0) members = parseMemberList(then.stdout).members;
      else {
        // The member list could not ride with the last poll (another host, or it failed there): on its own.
        const { host, command } = task.members;
        try {
          const r = await mustRun(ctx.hosts.get(host)!, { host, title: 'list members', argv: [], command, changes: false }, 'etcdctl member list failed');
          members = parseMemberList(r.stdout).members;
        } catch (err) {
          if (err instanceof StepFailed) throw new HostsError('etcdctl member list failed', [err.failure]);
          throw err;
        }
      }
      return { title: `All ${n} members are healthy`, value: members };
    }
    case 'membership-change': {
      const c = task.change;
      const done = await runMembershipChange(task.inventory, c, { hosts: ctx.hosts, gateDeadlineMs: task.gateDeadlineMs }, task.doneBefore, ctx.output);
      return { title: `${task.index + 1}/${task.total} ${c.kind} ${c.member}: done, ${c.votersAfter.length} voting members (tolerates ${c.toleranceAfter} failed)`, value: done };
    }
    case 'verdict': {
      if (task.refusal) throw refusalError(task.refusal);
      return {};
    }
  }
}

/** A plan's refusal as the typed error (and exit code) it stands for. */
export function refusalError(r: Refusal): Error {
  switch (r.kind) {
    case 'hosts':
      return new HostsError(r.summary, [...r.failures]);
    case 'operation':
      return new OperationError(r.message);
    case 'usage':
      return new UsageError(r.message);
  }
}
