/**
 * Coalescing repeated refusals in the audit log (docs/agent.md "A hostile hub"): a hub that
 * serves junk must not be able to fill the customer's audit log. A refusal whose reason code
 * equals the one the log ended with is not appended on its own; it is counted, and the count is
 * appended as one `audit.refusals-coalesced` entry at the end of the cycle. Every refusal is
 * still journaled and reported to the hub.
 */
import type { AuditEntry, AuditRecord } from '../state/audit.js';
import type { Tier } from '../../stacks/spec/types.js';

export const COALESCED_ACTION = 'audit.refusals-coalesced';

/** Refusals counted and not yet written, kept in agent.json. */
export interface CoalescedRefusals {
  readonly box: string;
  readonly tier: Tier;
  readonly code: string;
  readonly count: number;
  readonly firstAt: string;
  readonly lastAt: string;
}

/** Whether `record`, a refusal, repeats what the log ended with (`head`) or what is already being counted. */
export function repeatsRefusal(head: AuditEntry | undefined, pending: CoalescedRefusals | null | undefined, record: AuditRecord): boolean {
  if (record.outcome !== 'rejected' || !record.reason) return false;
  if (pending) return pending.code === record.reason.code;
  return head !== undefined && head.outcome === 'rejected' && head.reason?.code === record.reason.code;
}

export function countRefusal(pending: CoalescedRefusals | null | undefined, record: AuditRecord, at: string): CoalescedRefusals {
  return pending
    ? { ...pending, count: pending.count + 1, lastAt: at }
    : { box: record.box, tier: record.tier, code: record.reason!.code, count: 1, firstAt: at, lastAt: at };
}

/** The one entry that stands for the counted refusals. */
export function coalescedRecord(pending: CoalescedRefusals): AuditRecord {
  return {
    actor: 'agent',
    action: COALESCED_ACTION,
    box: pending.box,
    tier: pending.tier,
    envelopeDigest: null,
    outcome: 'rejected',
    reason: {
      code: pending.code,
      message: `${pending.count} more envelope(s) refused with ${pending.code} from ${pending.firstAt} to ${pending.lastAt}; each is in the journal and was reported to the hub`,
    },
  };
}
