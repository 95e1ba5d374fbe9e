// One JSON shape for the plan of every changing command (`--dry-run --json`): an ordered list of typed steps, each
// naming its host, what it runs (argv and the rendered command) and whether it changes or destroys anything. Pure.
// The recording tests (test/integration/recording.test.ts) compare these steps with what fake hosts received.

import { render, type Argv } from './shell.js';
import type { Step } from './up.js';

/**
 * run: a command on a host. upload: a file copied to a host (ssh/transfer.ts). gate: a read repeated until a condition holds (health,
 * catch-up, agreement), nothing changes. membership: an etcd membership or leadership change. snapshot: taking or checking
 * a snapshot. local: a file written on this machine (a fetched snapshot, issued certificates).
 */
export type StepKind = 'run' | 'upload' | 'gate' | 'membership' | 'snapshot' | 'local';

export interface PlanStep {
  /** Node name the step runs on; null for a step on this machine. */
  host: string | null;
  title: string;
  kind: StepKind;
  /** Empty for uploads and local steps; may hold a `<placeholder>` for a value known only when the step runs. */
  argv: readonly string[];
  /** argv rendered as it runs; for an upload or a local step, a description (`copy LOCAL to REMOTE (mode 0600)`). */
  command: string;
  /** Whether the step changes anything (a host, the cluster, or a local file). */
  changes: boolean;
  /** Whether it stops a member, removes one, or moves member data. */
  destructive: boolean;
  /** Present when the step runs only under a condition decided while running (e.g. `container-absent`). */
  when?: string;
}

/** The whole document: which command, then its steps in the order they run; commands add their own keys. */
export interface PlanDocument {
  command: string;
  steps: PlanStep[];
  [key: string]: unknown;
}

/** A placeholder argument: the value is known only when the step runs (a member ID from `member add`). */
export const placeholder = (what: string): string => `<${what}>`;

export function planStep(
  host: string | null,
  title: string,
  kind: StepKind,
  argv: Argv,
  options: { changes?: boolean; destructive?: boolean; when?: string; command?: string } = {},
): PlanStep {
  return {
    host,
    title,
    kind,
    argv: [...argv],
    command: options.command ?? render(argv),
    changes: options.changes ?? true,
    destructive: options.destructive ?? false,
    ...(options.when !== undefined ? { when: options.when } : {}),
  };
}

/** A planned host Step (plan/up.ts) as a typed step: an upload when it sends a file, else a run. */
export function fromStep(step: Step, kind?: StepKind, when?: string): PlanStep {
  return planStep(step.host, step.title, kind ?? (step.upload ? 'upload' : 'run'), step.upload ? [] : step.argv, {
    command: step.command,
    changes: step.changes,
    destructive: step.destructive === true,
    ...(when !== undefined ? { when } : {}),
  });
}

/** The local step of a tls: pki cluster: its CA and every member's certificates, made or checked before any host changes. */
export function pkiStep(inventory: { cluster: { pkiDir: string } }): PlanStep {
  return planStep(null, 'create or check the cluster CA and member certificates', 'local', [], {
    command: `create or check the CA and certificates in ${inventory.cluster.pkiDir}`,
  });
}
