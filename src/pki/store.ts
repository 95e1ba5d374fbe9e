// The cluster's PKI on the operator's machine: the CA is created once and reused; a leaf is (re)issued when it is
// missing, not signed by this CA, names other addresses than the inventory, expires within 30 days, or on rotation.

import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Inventory } from '../inventory/types.js';
import { caPaths, CA_DAYS, leafSpecs, RENEW_WITHIN_DAYS, type LeafSpec } from './layout.js';
import { certInfo, createCa, issueLeaf, signedBy, type KeyAndCert } from './x509.js';

export interface PkiReport {
  dir: string;
  caCreated: boolean;
  issued: string[];
  reused: string[];
}

function write(path: string, content: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, content, { mode });
  chmodSync(path, mode); // an existing file keeps its old mode otherwise
}

function readPair(base: string): KeyAndCert | null {
  if (!existsSync(`${base}.crt`) || !existsSync(`${base}.key`)) return null;
  return { certPem: readFileSync(`${base}.crt`, 'utf8'), keyPem: readFileSync(`${base}.key`, 'utf8') };
}

/** Why a leaf must be issued again, or null when it can be reused. */
export async function leafProblem(leaf: KeyAndCert | null, spec: LeafSpec, ca: KeyAndCert, now: Date): Promise<string | null> {
  if (!leaf) return 'missing';
  if (!(await signedBy(leaf.certPem, ca.certPem))) return 'not signed by this CA';
  const info = certInfo(leaf.certPem);
  if (info.notAfter.getTime() - now.getTime() < RENEW_WITHIN_DAYS * 86_400_000) return `expires ${info.notAfter.toISOString()}`;
  const want = [...spec.request.ips].sort().join(',');
  if (info.ips.sort().join(',') !== want) return `names ${info.ips.join(',')}, inventory needs ${want}`;
  return null;
}

export async function ensurePki(inventory: Inventory, options: { now: Date; rotate?: boolean; dryRun?: boolean }): Promise<PkiReport> {
  const dir = inventory.cluster.pkiDir;
  const ca = caPaths(dir);
  let caPair: KeyAndCert | null = readPair(join(dir, 'ca'));
  const report: PkiReport = { dir, caCreated: false, issued: [], reused: [] };
  if (!caPair) {
    report.caCreated = true;
    if (options.dryRun) return { ...report, issued: leafSpecs(inventory).map((s) => s.base) };
    caPair = await createCa(`etcd-deploy CA ${inventory.cluster.token}`, CA_DAYS, options.now);
    write(ca.key, caPair.keyPem, 0o600);
    write(ca.cert, caPair.certPem, 0o644);
  }
  for (const spec of leafSpecs(inventory)) {
    const base = join(dir, spec.base);
    const problem = options.rotate ? 'rotation' : await leafProblem(readPair(base), spec, caPair, options.now);
    if (problem === null) {
      report.reused.push(spec.base);
      continue;
    }
    report.issued.push(spec.base);
    if (options.dryRun) continue;
    const leaf = await issueLeaf(caPair, spec.request, options.now);
    write(`${base}.key`, leaf.keyPem, 0o600);
    write(`${base}.crt`, leaf.certPem, 0o644);
  }
  return report;
}

export function pkiSummary(r: PkiReport, dryRun = false): string {
  const verb = dryRun ? 'would issue' : 'issued';
  const parts = [
    r.caCreated ? `${dryRun ? 'would create' : 'created'} the cluster CA in ${r.dir}` : `cluster CA in ${r.dir}`,
    r.issued.length ? `${verb} ${r.issued.join(', ')}` : '',
    r.reused.length ? `reused ${r.reused.length} valid certificate(s)` : '',
  ].filter(Boolean);
  return `PKI: ${parts.join('; ')}`;
}
