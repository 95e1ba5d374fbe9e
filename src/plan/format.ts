// Renders an UpPlan for people (dry-run text) and machines (--json). Pure: the same plan always prints the same way.

import { checkStepList, FSYNC_PROBE_DIR_PATTERN, inspectionOrder } from '../check/plan.js';
import type { NodeSpec } from '../inventory/types.js';
import { fromStep, pkiStep, planStep, type PlanStep } from './json.js';
import { conditionText, type UpPlan } from './up.js';

function sshTarget(node: NodeSpec): string {
  const address = node.ssh.host ?? node.ip;
  const host = address.includes(':') ? `[${address}]` : address;
  return `${node.ssh.user}@${host}:${node.ssh.port}`;
}

/** `user@host:port` of the jump host a node is reached through, or null. */
function sshVia(node: NodeSpec): string | null {
  const j = node.ssh.jump;
  if (!j) return null;
  return `${j.user}@${j.host.includes(':') ? `[${j.host}]` : j.host}:${j.port}`;
}

/** How the connections are made, when it is more than plain ssh: jump hosts and sudo. */
function transportLines(nodes: readonly NodeSpec[]): string[] {
  const out: string[] = [];
  const vias = [...new Set(nodes.map(sshVia).filter((v): v is string => v !== null))];
  if (vias.length > 0) out.push(`SSH goes through the bastion ${vias.join(', ')} (one connection to it, shared by every host).`);
  const sudoUsers = [...new Set(nodes.filter((n) => n.ssh.sudo).map((n) => n.ssh.user))];
  if (sudoUsers.length > 0) {
    out.push(
      `Every command below runs as ${sudoUsers.join(', ')} through sudo -n (ssh.sudo): sudo -n -- sh -c '<command>'.`,
    );
  }
  return out;
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
  out.push(...transportLines(inventory.nodes));
  out.push('Every host is inspected first; nothing changes on any host unless all of them pass.');
  out.push('On each host the inspections run one after another in one shell session, and so do the changes (in order, stopping at the first failure).');
  for (const hp of plan.hosts) {
    out.push('');
    const via = sshVia(hp.node);
    out.push(`${hp.node.name}  ssh ${sshTarget(hp.node)}${via ? ` via ${via}` : ''}${hp.node.ssh.sudo ? ' (sudo -n)' : ''}  data ${hp.node.dataPath}`);
    out.push('  etcd flags:');
    for (const f of hp.flags) out.push(`    ${f}`);
    out.push(`  inspect and preflight checks (read-only, but for the fsync probe's own new directory ${FSYNC_PROBE_DIR_PATTERN}, always deleted):`);
    for (const s of inspectionOrder(hp.probes, hp.checks)) out.push(`    # ${s.title}`, `    $ ${s.command}`);
    if (hp.node.name === plan.etcdReads[0]?.host) {
      out.push(`    # then, through this member's etcdctl (when its container runs; a new cluster has none): what etcd lists`);
      for (const s of plan.etcdReads) out.push(`    $ ${s.command}`);
    }
    out.push(`    # ${hp.checks.manifest.title}, ${conditionText['image-missing']}`, `    $ ${hp.checks.manifest.command}`);
    out.push('  then, in order:');
    for (const s of hp.apply) {
      out.push(`    # ${s.title}, ${conditionText[s.when]}`);
      out.push(`    $ ${s.command}`);
    }
  }
  out.push('');
  out.push(`Then on ${plan.health.host}, repeated until every member is healthy (at most ${healthDeadlineSeconds}s):`);
  out.push(`    $ ${plan.health.command}`);
  out.push('and once healthy, in the same session as the poll that found it so:');
  out.push(`    $ ${plan.members.command}`);
  out.push('');
  out.push(`Client endpoints: ${plan.clientEndpoints.join(',')}`);
  return out.join('\n');
}

/**
 * `up` as typed steps (plan/json.ts), in the order a run takes them (plan/up-run.ts builds its stages from the same
 * pieces): every host's inspection (etcd's own reads with the first host's), the local PKI (tls: pki), each host's
 * conditional changes, the health gate and the member list. Without an observation every conditional step is listed
 * with its condition; `up --dry-run` lists the ones whose condition holds (and the membership changes).
 */
export function upSteps(plan: UpPlan): PlanStep[] {
  return [
    ...inspectionSteps(plan),
    ...(plan.inventory.cluster.tls === 'pki' ? [pkiStep(plan.inventory)] : []),
    ...plan.hosts.flatMap((hp) => hp.apply.map((s) => fromStep(s, undefined, s.when))),
    ...healthSteps(plan),
  ];
}

/** Every host's reads before anything changes: its inspection, etcd's view on the first, the manifest when the image is missing. */
export function inspectionSteps(plan: UpPlan): PlanStep[] {
  return plan.hosts.flatMap((hp) => [
    ...inspectionOrder(hp.probes, hp.checks).map((s) => fromStep(s)),
    ...plan.etcdReads.filter((s) => s.host === hp.node.name).map((s) => fromStep(s)),
    fromStep(hp.checks.manifest, 'run', 'image-missing'),
  ]);
}

/** The health gate, and the member list read with its last poll. */
export function healthSteps(plan: UpPlan): PlanStep[] {
  return [planStep(plan.health.host, plan.health.title, 'gate', plan.health.argv, { changes: false }), fromStep(plan.members)];
}

export function upPlanJson(plan: UpPlan): unknown {
  return {
    command: 'up',
    inventory: plan.inventory.file,
    warnings: plan.inventory.warnings,
    hosts: plan.hosts.map((hp) => ({
      host: hp.node.name,
      ip: hp.node.ip,
      ssh: sshTarget(hp.node),
      ...(sshVia(hp.node) ? { sshVia: sshVia(hp.node) } : {}),
      ...(hp.node.ssh.sudo ? { sudo: true } : {}),
      dataPath: hp.node.dataPath,
      flags: hp.flags,
      inspect: Object.values(hp.probes).map((s) => ({ title: s.title, command: s.command })),
      checks: [
        ...checkStepList(hp.checks).map((s) => ({ title: s.title, command: s.command })),
        { title: hp.checks.manifest.title, command: hp.checks.manifest.command, when: 'image-missing' },
      ],
      apply: hp.apply.map((s) => ({ title: s.title, command: s.command, when: s.when })),
    })),
    health: { host: plan.health.host, command: plan.health.command },
    members: { host: plan.members.host, command: plan.members.command },
    clientEndpoints: plan.clientEndpoints,
    steps: upSteps(plan),
  };
}
