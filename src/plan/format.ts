// Renders an UpPlan for people (dry-run text) and machines (--json). Pure: the same plan always prints the same way.

import type { NodeSpec } from '../inventory/types.js';
import { conditionText, type UpPlan } from './up.js';

function sshTarget(node: NodeSpec): string {
  const host = node.ip.includes(':') ? `[${node.ip}]` : node.ip;
  return `${node.ssh.user}@${host}:${node.ssh.port}`;
}

export function formatUpPlan(plan: UpPlan, healthDeadlineSeconds: number): string {
  const { inventory } = plan;
  const c = inventory.cluster;
  const out: string[] = [];
  out.push(`Plan: ${inventory.nodes.length} etcd members from ${inventory.file}`);
  out.push(
    `cluster token ${c.token}, image ${c.image}, container ${c.containerName}, client port ${c.clientPort}` +
      (c.legacyClientPort !== null ? ` (and ${c.legacyClientPort})` : '') +
      `, peer port ${c.peerPort}`,
  );
  for (const w of inventory.warnings) out.push(`warning: ${w}`);
  out.push('');
  out.push('Every host is inspected first; nothing changes on any host unless all of them pass.');
  for (const hp of plan.hosts) {
    out.push('');
    out.push(`${hp.node.name}  ssh ${sshTarget(hp.node)}  data ${hp.node.dataPath}`);
    out.push('  etcd flags:');
    for (const f of hp.flags) out.push(`    ${f}`);
    out.push('  inspect (read-only):');
    for (const s of Object.values(hp.probes)) out.push(`    $ ${s.command}`);
    out.push('  then, in order:');
    for (const s of hp.apply) {
      out.push(`    # ${s.title}, ${conditionText[s.when]}`);
      out.push(`    $ ${s.command}`);
    }
  }
  out.push('');
  out.push(`Then on ${plan.health.host}, repeated until every member is healthy (at most ${healthDeadlineSeconds}s):`);
  out.push(`    $ ${plan.health.command}`);
  out.push(`and once healthy:`);
  out.push(`    $ ${plan.members.command}`);
  out.push('');
  out.push(`Client endpoints: ${plan.clientEndpoints.join(',')}`);
  return out.join('\n');
}

export function upPlanJson(plan: UpPlan): unknown {
  return {
    inventory: plan.inventory.file,
    warnings: plan.inventory.warnings,
    hosts: plan.hosts.map((hp) => ({
      host: hp.node.name,
      ip: hp.node.ip,
      ssh: sshTarget(hp.node),
      dataPath: hp.node.dataPath,
      flags: hp.flags,
      inspect: Object.values(hp.probes).map((s) => ({ title: s.title, command: s.command })),
      apply: hp.apply.map((s) => ({ title: s.title, command: s.command, when: s.when })),
    })),
    health: { host: plan.health.host, command: plan.health.command },
    members: { host: plan.members.host, command: plan.members.command },
    clientEndpoints: plan.clientEndpoints,
  };
}
