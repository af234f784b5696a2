/**
 * The outbox (agent.json): a finished envelope's report and audit record wait here until the
 * audit log holds the record and the hub has the report. The record, audit and report steps
 * (runner/agent/steps) and the agent's own checks (drift, storage) go through these functions.
 *
 * Durability order: the report and audit record go into the outbox before the journal entry
 * turns final; an audit entry is appended only if the log does not already hold it.
 */
import type { VerifiedEnvelope } from '../envelope/index.js';
import { EngineRunError } from '../engine/errors.js';
import type { ChangeCounts } from '../engine/run.js';
import { HubRequestError } from '../hub/client.js';
import type { EngineSummary, ReportRequest } from '../hub/protocol.js';
import { verifyAuditLog, type AuditRecord, type Reason } from '../state/audit.js';
import { divergenceFromHead } from '../state/audit-anchor.js';
import type { JobHeader, JournalEntry } from '../state/journal.js';
import type { AgentContext, EnvelopeOutcome, ItemResult } from './context.js';
import { auditAction } from './envelope-item.js';
import { errorKind, toReason } from './errors.js';
import type { SecretRegistry } from './logger.js';
import { coalescedRecord, countRefusal, repeatsRefusal } from './refusals.js';
import type { OutboxReport } from './state-dir.js';

/** Audit entries per upload request. */
const AUDIT_UPLOAD_SLICE = 500;

/** How many of the engine's error lines a report carries as `errors`. */
const MAX_REPORTED_ENGINE_ERRORS = 5;

export function auditBase(ctx: AgentContext, entry: JournalEntry, verified: VerifiedEnvelope | null): Omit<AuditRecord, 'outcome'> {
  return {
    actor: verified ? verified.signers.join(',') : 'unverified',
    action: auditAction(entry),
    box: ctx.box,
    tier: ctx.tier,
    envelopeDigest: entry.id,
    // A job about one guest (snapshot, rollback) names it: that tenant sees it through the local API.
    ...(verified && verified.header.type === 'job' && Number.isSafeInteger(verified.body.vmId) && (verified.body.vmId as number) >= 100 ? { vmIds: [verified.body.vmId as number] } : {}),
  };
}

/**
 * The record step's work: the report and audit record go into the outbox, then the journal
 * entry turns final (or `waiting`, for a box-side failure with a retry schedule).
 */
export async function recordOutcome(ctx: AgentContext, entry: JournalEntry, verified: VerifiedEnvelope | null, done: EnvelopeOutcome): Promise<ItemResult> {
  const { outcome, error, durationMs, counts, appliedSpec, retry } = done;
  // An engine message may quote a secret (a provider echoing its input): reports and the audit log get it masked.
  const reason = error === undefined ? undefined : maskedReason(toReason(error), ctx.secrets);
  if (reason) ctx.log[outcome === 'rejected' ? 'warn' : 'error'](`envelope ${outcome}`, { digest: entry.id, serial: entry.serial, action: entry.action, ...reason });
  else ctx.log.info('envelope applied', { digest: entry.id, serial: entry.serial, action: entry.action, ...counts, durationMs });
  const report: OutboxReport = {
    box: ctx.box,
    jobId: entry.id,
    tier: ctx.tier,
    outcome,
    ...(entry.serial > 0 ? { serial: entry.serial } : {}),
    ...(counts ? { engine: engineSummary(counts) } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(reason ? { reason } : {}),
    ...engineErrors(error, ctx.secrets),
  };
  const audit: AuditRecord = { ...auditBase(ctx, entry, verified), outcome, ...(reason ? { reason } : {}) };
  await ctx.stores.agent.update((data) => {
    data.outbox = data.outbox.filter((pending) => pending.report.jobId !== entry.id || pending.report.outcome !== outcome);
    data.outbox.push({ report, audit, audited: false });
  });
  if (retry) ctx.log.warn('box-side failure: the envelope waits and is retried', { digest: entry.id, attempt: retry.attempt, nextAt: retry.nextAt });
  await ctx.stores.journal.transition(entry.id, retry ? 'waiting' : outcome, reason, { ...(appliedSpec ? { specDigest: appliedSpec } : {}), ...(retry ? { retry } : {}) });
  return { digest: entry.id, serial: entry.serial, action: entry.action, outcome, ...(reason ? { reason } : {}), ...(counts ? { counts } : {}), ...(durationMs !== undefined ? { durationMs } : {}) };
}

/**
 * Ends an envelope outside the step list (a lost envelope, a restore pair): record, then
 * deliver (the audit and report steps).
 */
export async function finish(ctx: AgentContext, entry: JournalEntry, verified: VerifiedEnvelope | null, done: EnvelopeOutcome): Promise<ItemResult> {
  const result = await recordOutcome(ctx, entry, verified, done);
  await deliver(ctx, entry);
  return result;
}

/** Whether anything waits for the audit log or the hub. */
function hasPending(ctx: AgentContext): boolean {
  const { agent, audit } = ctx.stores;
  return agent.data.outbox.length > 0 || (audit.head?.seq ?? 0) !== agent.data.auditUploadedSeq || auditAnchorMoved(ctx);
}

/**
 * report and audit: appends each outbox record's audit entry (once), posts its report, and
 * uploads new audit entries. A hub outage leaves them in the outbox for the next cycle; it
 * never blocks or loses the local audit log.
 */
export async function deliver(ctx: AgentContext, subject?: JobHeader): Promise<void> {
  if (!hasPending(ctx)) return;
  await ctx.enter('audit', subject);
  await appendPendingAudit(ctx);
  await ctx.enter('report', subject);
  await postPending(ctx);
}

/** The audit step's work: every outbox record's audit entry into the local log, once. */
export async function appendPendingAudit(ctx: AgentContext): Promise<void> {
  for (const pending of ctx.stores.agent.data.outbox.filter((record) => !record.audited)) {
    await appendAuditOnce(ctx, pending.audit);
    await ctx.stores.agent.update(() => {
      pending.audited = true;
    });
  }
}

/** The report step's work: every outbox report to the hub, then the new audit entries; a hub outage leaves them queued. */
export async function postPending(ctx: AgentContext): Promise<void> {
  try {
    for (const pending of [...ctx.stores.agent.data.outbox]) {
      const { box, ...report } = pending.report;
      await ctx.hub.postReport(box, report as ReportRequest);
      await ctx.stores.agent.update((data) => {
        data.outbox = data.outbox.filter((record) => record !== pending);
      });
    }
    await uploadAudit(ctx);
  } catch (error) {
    if (errorKind(error) !== 'waiting') throw error;
    ctx.log.warn('hub unreachable; reports and audit entries stay queued', { ...toReason(error) });
  }
}

/** Whether the local head no longer is the hub's head it was at the last upload. */
function auditAnchorMoved(ctx: AgentContext): boolean {
  const anchor = ctx.stores.agent.data.auditHubHead;
  const local = ctx.stores.audit.head;
  return anchor !== undefined && anchor !== null && (anchor.seq !== local?.seq || anchor.hash !== local.hash);
}

export async function appendAuditOnce(ctx: AgentContext, record: AuditRecord): Promise<void> {
  const { audit, agent } = ctx.stores;
  // Agent-initiated records (drift checks) carry no envelope to recognise them by.
  if (record.envelopeDigest === null) {
    await audit.append(record);
    return;
  }
  const { entries } = await verifyAuditLog(audit.file);
  const present = entries.some((entry) => entry.envelopeDigest === record.envelopeDigest && entry.outcome === record.outcome && entry.action === record.action);
  if (present) return;
  const pending = agent.data.coalesced;
  if (repeatsRefusal(entries.at(-1), pending, record)) {
    await agent.update((data) => {
      data.coalesced = countRefusal(pending, record, ctx.now().toISOString());
    });
    return;
  }
  if (pending) {
    await audit.append(coalescedRecord(pending));
    await agent.update((data) => {
      data.coalesced = null;
    });
  }
  await audit.append(record);
}

async function uploadAudit(ctx: AgentContext): Promise<void> {
  const { audit, agent } = ctx.stores;
  const local = audit.head;
  const uploaded = agent.data.auditUploadedSeq;
  const anchor = agent.data.auditHubHead ?? null;
  if ((local?.seq ?? 0) === uploaded && (!anchor || (anchor.seq === local?.seq && anchor.hash === local.hash))) return;
  const { entries } = await verifyAuditLog(audit.file);
  // On every upload, before sending anything: the local log must still hold the entry the hub
  // ended with. A log cut and re-grown on the box is a valid chain that only this catches.
  const diverged = anchor ? divergenceFromHead(entries, anchor) : undefined;
  if (diverged) throw diverged;
  const fresh = entries.filter((entry) => entry.seq > uploaded);
  if (fresh.length === 0) return;
  try {
    // In slices the hub accepts (it refuses more than 1000 entries in one upload).
    for (let start = 0; start < fresh.length; start += AUDIT_UPLOAD_SLICE) {
      const answer = await ctx.hub.postAudit(ctx.box, fresh.slice(start, start + AUDIT_UPLOAD_SLICE));
      await agent.update((data) => {
        data.auditUploadedSeq = Math.max(data.auditUploadedSeq, answer.head?.seq ?? 0);
        data.auditHubHead = answer.head;
      });
    }
  } catch (error) {
    // The hub holds fewer entries than we thought (its data was restored): send all next time.
    if (error instanceof HubRequestError && error.code === 'EAUDIT_GAP') {
      await agent.update((data) => {
        data.auditUploadedSeq = 0;
        data.auditHubHead = null;
      });
      return;
    }
    throw error;
  }
}

/** After a cycle: the counted refusals go into the audit log as one entry; the archive forgets what the journal forgot. */
export async function tidy(ctx: AgentContext): Promise<void> {
  const { agent, audit, journal } = ctx.stores;
  const pending = agent.data.coalesced;
  if (pending) {
    await audit.append(coalescedRecord(pending));
    await agent.update((data) => {
      data.coalesced = null;
    });
  }
  const keep = journal.digests();
  const spec = journal.lastApplied(ctx.box, ctx.tier)?.specDigest;
  if (spec) keep.add(spec);
  await ctx.archive.prune((digest) => keep.has(digest));
}

/** The hub's report counts (docs/hub-protocol.md): replacements apart from updates. */
export function engineSummary(counts: ChangeCounts): EngineSummary {
  return { created: counts.create, updated: counts.update, replaced: counts.replace, deleted: counts.delete, same: counts.same };
}

/** The engine's first error lines for a report, with every secret the agent holds masked. */
function engineErrors(error: unknown, secrets: SecretRegistry): { errors?: string[] } {
  if (!(error instanceof EngineRunError) || error.details.length === 0) return {};
  return { errors: error.details.slice(0, MAX_REPORTED_ENGINE_ERRORS).map((line) => secrets.redact(line)) };
}

function maskedReason(reason: Reason, secrets: SecretRegistry): Reason {
  return { ...reason, message: secrets.redact(reason.message), ...(reason.details ? { details: reason.details.map((line) => secrets.redact(line)) } : {}) };
}
