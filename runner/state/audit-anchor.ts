/**
 * The hub's copy of a box's audit log is its anchor: a valid chain on the box proves nothing
 * about entries cut from its end and replaced (the chain is rebuilt from the cut). Comparing
 * the local entries with the hub's copy catches that (docs/runbook.md EAUDIT_CONFLICT).
 */
import type { AuditEntry } from './audit.js';
import { StateError } from './store.js';

/** The local audit log and the hub's copy disagree: a person must look (docs/runbook.md). */
export class AuditConflictError extends StateError {
  /** The first seq at which they differ. */
  readonly seq: number;
  constructor(seq: number, message: string) {
    super('EAUDIT_CONFLICT', 'stalled', `${message}; see docs/runbook.md "EAUDIT_CONFLICT" (felhom audit verify --hub <url> shows where)`);
    this.seq = seq;
  }
}

/** Where the local log leaves the hub's head, or undefined when the local log still holds it. */
export function divergenceFromHead(local: readonly AuditEntry[], hubHead: { readonly seq: number; readonly hash: string }): AuditConflictError | undefined {
  const entry = local.find((candidate) => candidate.seq === hubHead.seq);
  if (!entry) {
    return new AuditConflictError(hubHead.seq, `the hub holds audit entries up to seq ${hubHead.seq}, but the box's log ends at seq ${local.at(-1)?.seq ?? 0}: entries were cut from the box's log`);
  }
  if (entry.hash !== hubHead.hash) {
    return new AuditConflictError(hubHead.seq, `the box's audit entry seq ${hubHead.seq} is not the one the hub holds: the box's log was rewritten from there`);
  }
  return undefined;
}

/** The first entry where the local log and the hub's copy differ, or undefined when the hub's copy is a prefix of the local log. */
export function divergenceFromHub(local: readonly AuditEntry[], hub: readonly AuditEntry[]): AuditConflictError | undefined {
  const bySeq = new Map(local.map((entry) => [entry.seq, entry]));
  for (const held of hub) {
    const mine = bySeq.get(held.seq);
    if (!mine) return new AuditConflictError(held.seq, `the hub holds audit entry seq ${held.seq}, which the box's log no longer has: entries were cut from the box's log`);
    if (mine.hash !== held.hash) return new AuditConflictError(held.seq, `the box's audit entry seq ${held.seq} differs from the hub's copy (${mine.action} ${mine.outcome} on the box, ${held.action} ${held.outcome} at the hub)`);
  }
  return undefined;
}
