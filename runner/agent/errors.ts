/**
 * The agent's own errors, and how any error the cycle meets is classified. Every error in the
 * runner is a {@link FelhomError} that already says how to handle it (`kind`): envelope refusals,
 * trust-store and secret problems are `stalled`; hub outages and a held lock are `waiting`;
 * engine failures say their own (runner/engine/errors.ts). {@link errorKind} reads that, never
 * the message.
 */
import { ERROR_CODE_PATTERN, FelhomError, type ErrorFault } from '../../lib/errors.js';
import type { ChangeCounts } from '../engine/run.js';
import type { Reason } from '../state/audit.js';

/** How the agent handles an error. */
export type ErrorKind = 'stalled' | 'waiting' | 'generic';

export class AgentError extends FelhomError {
  declare readonly kind: ErrorKind;
  constructor(code: string, kind: ErrorKind, message: string, options: { cause?: unknown; fault?: ErrorFault } = {}) {
    super(code, kind, message, options);
  }
}

/** The agent cannot start: a missing key, passphrase or state directory problem. A person must fix it. */
export class AgentSetupError extends AgentError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('EAGENT_SETUP', 'stalled', message, { ...options, fault: 'environment' });
  }
}

/** A verified job asks for something its body does not allow (a destroy without the `destroy` capability). */
export class CapabilityError extends AgentError {
  constructor(message: string) {
    super('ECAPABILITY', 'stalled', message);
  }
}

/** A verified job this agent cannot carry out here (a snapshot without Proxmox host operations). */
export class UnsupportedJobError extends AgentError {
  constructor(message: string) {
    super('EJOB_UNSUPPORTED', 'stalled', message);
  }
}

/** The envelope a journal entry names is no longer on disk: the job cannot be retried. */
export class EnvelopeLostError extends AgentError {
  constructor(message: string) {
    super('EENVELOPE_LOST', 'stalled', message);
  }
}

/** A post-deploy health check failed (the deploy was rolled back when a snapshot existed). */
export class HealthCheckError extends AgentError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('EHEALTH', 'generic', message, options);
  }
}

/**
 * A restore left guests without a backup (no source held one): the rest was restored and the
 * spec applied, and a person must decide about the named guests.
 */
export class RestoreIncompleteError extends AgentError {
  /** `counts`: what the restore's up changed (it ran). */
  constructor(message: string, readonly unrecoverable: readonly number[], readonly counts?: ChangeCounts) {
    super('ERESTORE_INCOMPLETE', 'stalled', message);
  }
}

/**
 * A step of a restore failed (a `pct restore`, a start, the `up`). The guests restored before it
 * are named; the cause's own code is kept (`EHOST_OPERATION`, an engine code) so the report says
 * what broke. Stalled: a half-done restore needs a person, never an automatic retry.
 */
export class RestoreStepError extends AgentError {
  constructor(readonly action: { readonly kind: string; readonly vmId?: number }, readonly restored: readonly number[], cause: unknown) {
    const step = action.vmId === undefined ? action.kind : `${action.kind} of guest ${action.vmId}`;
    const before = restored.length > 0 ? `after restoring guest(s) ${restored.join(', ')}` : 'before any guest was restored';
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(errorCode(cause) === 'EAGENT_INTERNAL' ? 'ERESTORE_STEP' : errorCode(cause), 'stalled', `restore: the ${step} failed ${before}: ${detail}`, { cause });
  }
}

/** A restore job found `running` at start: it was interrupted and is never repeated blindly. */
export class RestoreInterruptedError extends AgentError {
  constructor(message: string) {
    super('ERESTORE_INTERRUPTED', 'stalled', message);
  }
}

/** The agent is stopping: no new step starts. */
export class StoppingError extends AgentError {
  constructor(message = 'the agent is stopping') {
    super('ESTOPPING', 'waiting', message);
  }
}

/** How to handle `error`: its own `kind` when it is a {@link FelhomError} that is stalled or waiting, else generic. */
export function errorKind(error: unknown): ErrorKind {
  return error instanceof FelhomError && (error.kind === 'stalled' || error.kind === 'waiting') ? error.kind : 'generic';
}

/**
 * The error's reason code: a {@link FelhomError}'s own (`EREPLAY`), a Node system error's
 * (`ENOENT`, `ECONNREFUSED`), else EAGENT_INTERNAL.
 */
export function errorCode(error: unknown): string {
  const code = error instanceof FelhomError ? error.code : isSystemError(error) ? error.code : undefined;
  return typeof code === 'string' && ERROR_CODE_PATTERN.test(code) ? code.slice(0, 64) : 'EAGENT_INTERNAL';
}

/** Node's own errors (a file, a socket) carry the system call that failed. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException & { syscall: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/** `{ code, message }` with a one-line message, as journals, reports and audit entries carry it. */
export function toReason(error: unknown): Reason {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split('\n').map((part) => part.trim()).find(Boolean) ?? 'unknown error';
  const details = reasonDetails(error);
  return { code: errorCode(error), message: line.length > 500 ? `${line.slice(0, 497)}...` : line, ...(details.length > 0 ? { details } : {}) };
}

/** At most this many detail lines travel in a report, each at most 500 characters. */
export const MAX_REASON_DETAILS = 20;

/** A {@link FelhomError}'s `details` lines (engine diagnostics, policy violations), bounded for reports. */
function reasonDetails(error: unknown): string[] {
  if (!(error instanceof FelhomError)) return [];
  const lines = error.details.filter((line): line is string => typeof line === 'string' && line.length > 0).map((line) => (line.length > 500 ? `${line.slice(0, 497)}...` : line));
  return lines.length > MAX_REASON_DETAILS ? [...lines.slice(0, MAX_REASON_DETAILS - 1), `... and ${lines.length - MAX_REASON_DETAILS + 1} more`] : lines;
}
