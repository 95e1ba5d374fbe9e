// The rolling plan as text: the exact sequence `rolling` runs, member by member.

import { turnTolerance, type RollingPlan } from './rolling.js';
import type { SnapshotPlan } from './snapshot.js';
import { describeVersionPlan } from './upgrade-rules.js';

export function formatRollingPlan(plan: RollingPlan, snapshot: SnapshotPlan): string {
  const out: string[] = [];
  const voting = plan.voting;
  out.push(`Rolling ${plan.mode}: ${plan.order.length} member(s), strictly one at a time; never more than one member down.`);
  if (plan.alreadyDone.length) out.push(`Already done in the unfinished run: ${plan.alreadyDone.join(', ')}`);
  if (plan.version) {
    out.push(`Version: ${describeVersionPlan(plan.version)}.`);
    for (const r of plan.version.because) out.push(`  rule ${r.id}: ${r.says} (${r.source})`);
  }
  out.push('');
  out.push(`1. Snapshot on ${snapshot.host}, then at once: checked there, hashed there, streamed to ${snapshot.localPath} (hashed as it arrives, compared):`);
  for (const c of [snapshot.save, snapshot.size, snapshot.status, snapshot.checksum]) out.push(`    [${snapshot.host}] $ ${c.command}`);
  out.push(`    [${snapshot.host}] $ cat -- ${snapshot.hostPath}   (into ${snapshot.localPath})`);
  out.push(`    [${snapshot.host}] $ ${snapshot.cleanup.command}`);
  plan.order.forEach((roll, i) => {
    out.push('');
    out.push(`${i + 2}. ${roll.node.name} (membership changes through ${roll.via}):`);
    const t = turnTolerance(voting, plan.mode);
    out.push(
      `    voting members: ${voting}; while ${roll.node.name} is down: ${t.servingWhileDown} of ${t.votingWhileDown} voting serve, fault tolerance ${t.faultToleranceWhileDown}` +
        `; afterwards: ${voting} voting, fault tolerance ${t.faultToleranceAfter}`,
    );
    for (const a of roll.actions) {
      switch (a.kind) {
        case 'run':
        case 'member-remove':
        case 'member-add':
          out.push(`    # ${a.title}`);
          out.push(`    [${a.host}] $ ${a.command}`);
          break;
        case 'downgrade-enable':
          out.push(`    # ${a.validate.title}`);
          out.push(`    [${a.validate.host}] $ ${a.validate.command}`);
          out.push(`    # ${a.title}`);
          out.push(`    [${a.host}] $ ${a.command}`);
          break;
        case 'promote':
          out.push(`    # ${a.title} (retried until the learner is in sync)`);
          out.push(`    [${a.host}] $ ${a.argvFor('<ID from member add>').join(' ')}`);
          break;
        default:
          out.push(`    # ${a.title}`);
      }
    }
  });
  return out.join('\n');
}
