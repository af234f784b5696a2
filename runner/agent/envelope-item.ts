/**
 * A unit of work: one envelope (the desired spec, or a pending job) as fetched, with what can be
 * read from it before verification. Nothing here is trusted: the header fields only label the
 * journal entry; verification (runner/envelope) decides what is believed.
 */
import { createHash } from 'node:crypto';
import { parseEnvelope, payloadDigest } from '../envelope/index.js';
import type { JobHeader } from '../state/journal.js';
import type { Tier } from '../../stacks/spec/types.js';

export interface WorkItem {
  /** Where it came from: the spec endpoint or the job list. */
  readonly source: 'spec' | 'job';
  /** The envelope file text as fetched. */
  readonly envelope: string;
  /** Payload digest (the envelope's identity), or sha256 of the bytes when the envelope does not parse. */
  readonly digest: string;
  /**
   * sha256 of the envelope file text: which *copy* of the payload this is. Two copies of one
   * payload differ only in their signatures; a copy refused at the signature rules does not make
   * another copy final (docs/agent.md "Copies of one envelope"). Never shown as the envelope's sha256.
   */
  readonly copy: string;
  /** Whether the envelope parsed far enough to have a payload. */
  readonly parsed: boolean;
  /** The journal header, from the unverified payload. */
  readonly header: JobHeader;
  /** The spec's ETag, for the spec item. */
  readonly etag?: string;
}

/** Builds a work item; `box`/`tier` label an envelope whose own header cannot be read. */
export function workItem(source: 'spec' | 'job', envelope: string, box: string, tier: Tier, etag?: string): WorkItem {
  let payload: string | undefined;
  try {
    payload = parseEnvelope(envelope).payload;
  } catch {
    payload = undefined;
  }
  const copy = createHash('sha256').update(envelope, 'utf8').digest('hex');
  const digest = payload !== undefined ? payloadDigest(payload) : copy;
  const claimed = payload !== undefined ? peek(payload) : {};
  const type = claimed.type === 'spec' || claimed.type === 'job' ? claimed.type : source;
  const action = type === 'spec' ? 'apply' : typeof claimed.action === 'string' ? claimed.action.slice(0, 32) : 'unknown';
  const header: JobHeader = {
    id: digest,
    box,
    tier,
    serial: typeof claimed.serial === 'number' && Number.isSafeInteger(claimed.serial) && claimed.serial > 0 ? claimed.serial : 0,
    type,
    action,
    copy,
  };
  return { source, envelope, digest, copy, parsed: payload !== undefined, header, ...(etag ? { etag } : {}) };
}

function peek(payload: string): { type?: unknown; serial?: unknown; action?: unknown } {
  try {
    const value = JSON.parse(payload) as { type?: unknown; serial?: unknown; body?: { action?: unknown } };
    return { type: value.type, serial: value.serial, action: value.body?.action };
  } catch {
    return {};
  }
}

/** Journal and audit name for what an envelope asks: `spec.apply`, `job.refresh`, ... */
export function auditAction(header: Pick<JobHeader, 'type' | 'action'>): string {
  return header.type === 'spec' ? 'spec.apply' : `job.${header.action}`;
}
