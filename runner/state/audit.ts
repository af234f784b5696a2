/**
 * The customer-visible audit log (docs/architecture.md#audit-log): append-only JSON Lines, one entry per line,
 * each entry hash-chained to the one before it, every append fsynced before it returns.
 *
 *   hash = sha256( canonical JSON (RFC 8785) of the entry without `hash` )
 *   prevHash = the previous entry's hash, or 64 zeros for the first entry (seq 1)
 *
 * {@link verifyAuditLog} re-derives the chain and names the first entry that breaks it. A torn
 * last line (a crash in the middle of an append) is reported, never silently dropped or kept.
 * Appends are serialised within a process; the agent's stack lock keeps a second process out.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import canonicalize from 'canonicalize';
import type { Tier } from '../../stacks/spec/types.js';
import { StateError, syncDirectory, writeFileDurably } from './store.js';

/** Why something was refused or failed: a reason code and one line for people. */
export interface Reason {
  readonly code: string;
  readonly message: string;
  /** Lines under the message: the engine's diagnostics per resource, a policy's violations. @default - none */
  readonly details?: readonly string[];
}

export type AuditOutcome = 'accepted' | 'rejected' | 'succeeded' | 'failed';
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['accepted', 'rejected', 'succeeded', 'failed'];

/** The audit log's file name inside an agent state directory. */
export const AUDIT_FILE = 'audit.jsonl';

/** The chain's anchor: the `prevHash` of entry seq 1. */
export const GENESIS_HASH = '0'.repeat(64);

/** What a caller records; the log adds seq, time, prevHash and hash. */
export interface AuditRecord {
  /** Who initiated the action: operator key fingerprint(s) joined by commas, or `agent`. */
  readonly actor: string;
  /** What was done, for example `spec.apply` or `job.snapshot`. */
  readonly action: string;
  readonly box: string;
  readonly tier: Tier;
  /** sha256 of the envelope that carried the action, or null for actions with no envelope. */
  readonly envelopeDigest: string | null;
  readonly outcome: AuditOutcome;
  readonly reason?: Reason;
  /**
   * The guests (Proxmox CT ids) the action concerns, so each tenant of a multi-guest box sees the
   * operator actions on its own guest (the local API's `audit` verb). Covered by the hash when
   * present; entries written before the field existed have none and verify as they did.
   * @default - absent: the host as a whole, or not known
   */
  readonly vmIds?: readonly number[];
}

export interface AuditEntry extends AuditRecord {
  /** 1 for the first entry, then +1 per entry. */
  readonly seq: number;
  /** ISO 8601 time of the append. */
  readonly time: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** The hash an entry must carry: sha256 hex over the canonical JSON of every other field. */
export function auditEntryHash(entry: Omit<AuditEntry, 'hash'> | AuditEntry): string {
  const { hash: _ignored, ...rest } = entry as AuditEntry;
  return createHash('sha256').update(canonicalize(rest)!).digest('hex');
}

/** The audit log cannot be appended to until a person looks at it. */
export class AuditLogError extends StateError {
  readonly file: string;
  readonly problems: readonly AuditProblem[];
  constructor(file: string, problems: readonly AuditProblem[]) {
    const first = problems[0];
    super('EAUDIT_BROKEN', 'stalled', `audit log ${file} is broken: ${first ? describeProblem(first) : 'unknown problem'}`, { details: problems.map(describeProblem) });
    this.file = file;
    this.problems = problems;
  }
}

export type AuditProblemKind = 'torn' | 'malformed' | 'edited' | 'removed' | 'reordered' | 'out-of-chain';

export interface AuditProblem {
  readonly kind: AuditProblemKind;
  /** 1-based line number in the file. */
  readonly line: number;
  /** The entry's seq as written, when the line parsed. */
  readonly seq?: number;
  readonly message: string;
}

export function describeProblem(problem: AuditProblem): string {
  const where = problem.seq === undefined ? `line ${problem.line}` : `entry seq ${problem.seq} (line ${problem.line})`;
  return `${where}: ${problem.kind}: ${problem.message}`;
}

export interface AuditVerification {
  readonly ok: boolean;
  /** Entries that parsed, in file order (including broken ones, so `show` can still print them). */
  readonly entries: readonly AuditEntry[];
  readonly problems: readonly AuditProblem[];
  /** The hash of the last entry of the intact prefix: compare it with the hub's copy to detect truncation. */
  readonly head: { readonly seq: number; readonly hash: string } | null;
}

interface ParsedLine {
  readonly line: number;
  readonly entry: AuditEntry;
}

const ENTRY_FIELDS = ['seq', 'time', 'actor', 'action', 'box', 'tier', 'envelopeDigest', 'outcome', 'prevHash', 'hash'] as const;

function shapeProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const record = value as Record<string, unknown>;
  for (const field of ENTRY_FIELDS) if (!(field in record)) return `missing field ${field}`;
  if (!Number.isSafeInteger(record.seq) || (record.seq as number) < 1) return 'seq is not a positive integer';
  if (typeof record.hash !== 'string' || typeof record.prevHash !== 'string') return 'hash and prevHash must be strings';
  return undefined;
}

/**
 * Reads and checks an audit log. Detects: a torn last line, a line that is not an entry, an
 * entry whose content no longer matches its hash (edited), missing seqs (removed), seqs out of
 * order (reordered) and an entry whose prevHash does not link to the entry before it
 * (appended or inserted out of chain, or its predecessor rewritten with a recomputed hash).
 *
 * Removing entries from the end leaves a valid shorter chain; compare `head` with an anchor
 * kept elsewhere (the hub's copy of the log) to detect that.
 */
export async function verifyAuditLog(file: string): Promise<AuditVerification> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, entries: [], problems: [], head: null };
    throw error;
  }
  return verifyAuditText(text);
}

/** {@link verifyAuditLog} over the file's text. */
export function verifyAuditText(text: string): AuditVerification {
  const problems: AuditProblem[] = [];
  const parsed: ParsedLine[] = [];
  const lines = text.split('\n');
  const endsWithNewline = text.endsWith('\n');
  if (endsWithNewline || text === '') lines.pop();

  lines.forEach((raw, index) => {
    const line = index + 1;
    const isLast = index === lines.length - 1;
    if (isLast && !endsWithNewline) {
      problems.push({ kind: 'torn', line, message: 'the last line is incomplete (no newline): an append was interrupted; the entry was not recorded' });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      problems.push({ kind: 'malformed', line, message: 'not valid JSON' });
      return;
    }
    const shape = shapeProblem(value);
    if (shape) {
      problems.push({ kind: 'malformed', line, message: shape });
      return;
    }
    parsed.push({ line, entry: value as AuditEntry });
  });

  // Content: each entry must still hash to what it says.
  for (const { line, entry } of parsed) {
    if (auditEntryHash(entry) !== entry.hash) {
      problems.push({ kind: 'edited', line, seq: entry.seq, message: 'its content does not match its hash: a field was changed after it was written' });
    }
  }

  // Order and completeness: seqs must run 1, 2, 3, ... in file order.
  const seqs = parsed.map((p) => p.entry.seq);
  const sorted = [...seqs].sort((a, b) => a - b);
  const isPermutationOfRun = sorted.every((seq, i) => seq === i + 1);
  if (isPermutationOfRun) {
    const firstMisplaced = parsed.findIndex((p, i) => p.entry.seq !== i + 1);
    if (firstMisplaced >= 0) {
      const at = parsed[firstMisplaced]!;
      problems.push({ kind: 'reordered', line: at.line, seq: at.entry.seq, message: `found seq ${at.entry.seq} where seq ${firstMisplaced + 1} belongs: entries were moved` });
    }
  } else {
    let expected = 1;
    for (const { line, entry } of parsed) {
      if (entry.seq > expected) {
        const missing = entry.seq - 1 === expected ? `seq ${expected}` : `seqs ${expected}..${entry.seq - 1}`;
        problems.push({ kind: 'removed', line, seq: entry.seq, message: `${missing} missing before this entry: entries were removed` });
      } else if (entry.seq < expected) {
        problems.push({ kind: 'reordered', line, seq: entry.seq, message: `seq ${entry.seq} appears after seq ${expected - 1}: entries were moved or duplicated` });
        continue;
      }
      expected = entry.seq + 1;
    }
  }

  // Linkage: each prevHash must be the hash of the entry just before it in the file.
  parsed.forEach(({ line, entry }, i) => {
    const previous = parsed[i - 1]?.entry;
    // Order problems already explain a broken link between misplaced entries.
    if (previous && entry.seq !== previous.seq + 1) return;
    const expectedPrev = previous ? previous.hash : GENESIS_HASH;
    if (!previous && entry.seq !== 1) return;
    if (entry.prevHash !== expectedPrev) {
      const what = previous ? `the hash of seq ${previous.seq} (line ${parsed[i - 1]!.line})` : 'the genesis hash';
      problems.push({ kind: 'out-of-chain', line, seq: entry.seq, message: `its prevHash is not ${what}: it was added outside the chain, or the entry before it was rewritten` });
    }
  });

  problems.sort((a, b) => a.line - b.line);
  const firstBadLine = problems[0]?.line ?? Number.POSITIVE_INFINITY;
  const intact = parsed.filter((p) => p.line < firstBadLine);
  const last = intact.at(-1)?.entry;
  return {
    ok: problems.length === 0,
    entries: parsed.map((p) => p.entry),
    problems,
    head: last ? { seq: last.seq, hash: last.hash } : null,
  };
}

export interface OpenAuditLogOptions {
  /**
   * What to do with a torn last line (a crash during an append): `fail` (default) refuses to
   * open; `quarantine` moves the log's torn bytes to `<file>.torn-<time>` and appends an entry
   * recording that it did, so the event stays visible to the customer.
   */
  readonly onTornTail?: 'fail' | 'quarantine';
  readonly clock?: () => Date;
}

/** An open audit log that appends entries. Open it with {@link AuditLog.open}. */
export class AuditLog {
  readonly file: string;
  #head: { seq: number; hash: string } | null;
  #chain: Promise<unknown> = Promise.resolve();
  readonly #clock: () => Date;

  private constructor(file: string, head: { seq: number; hash: string } | null, clock: () => Date) {
    this.file = file;
    this.#head = head;
    this.#clock = clock;
  }

  /** The audit log file inside an agent state directory. */
  static fileIn(stateDir: string): string {
    return join(stateDir, AUDIT_FILE);
  }

  /** Opens the log at `file`, verifying the whole chain first: a broken log is never extended. */
  static async open(file: string, options: OpenAuditLogOptions = {}): Promise<AuditLog> {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const clock = options.clock ?? (() => new Date());
    const result = await verifyAuditLog(file);
    const torn = result.problems.find((p) => p.kind === 'torn');
    const others = result.problems.filter((p) => p.kind !== 'torn');
    if (others.length > 0 || (torn && options.onTornTail !== 'quarantine')) throw new AuditLogError(file, result.problems);
    const log = new AuditLog(file, result.head, clock);
    if (torn) await log.#quarantineTornTail(torn);
    return log;
  }

  /** The last entry's seq and hash, or null for an empty log. */
  get head(): { readonly seq: number; readonly hash: string } | null {
    return this.#head;
  }

  /** Appends one entry and resolves once it is fsynced. */
  append(record: AuditRecord): Promise<AuditEntry> {
    const next = this.#chain.then(() => this.#append(record));
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #append(record: AuditRecord): Promise<AuditEntry> {
    const unsigned: Omit<AuditEntry, 'hash'> = {
      seq: (this.#head?.seq ?? 0) + 1,
      time: this.#clock().toISOString(),
      actor: record.actor,
      action: record.action,
      box: record.box,
      tier: record.tier,
      envelopeDigest: record.envelopeDigest,
      outcome: record.outcome,
      ...(record.reason ? { reason: { code: record.reason.code, message: record.reason.message } } : {}),
      ...(record.vmIds && record.vmIds.length > 0 ? { vmIds: [...new Set(record.vmIds)].sort((a, b) => a - b) } : {}),
      prevHash: this.#head?.hash ?? GENESIS_HASH,
    };
    const entry: AuditEntry = { ...unsigned, hash: auditEntryHash(unsigned) };
    const isNewFile = this.#head === null;
    const handle = await open(this.file, 'a', 0o600);
    try {
      // One write call per line: a crash leaves at most one torn line, which verify reports.
      await handle.write(`${JSON.stringify(entry)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (isNewFile) await syncDirectory(dirname(this.file));
    this.#head = { seq: entry.seq, hash: entry.hash };
    return entry;
  }

  async #quarantineTornTail(torn: AuditProblem): Promise<void> {
    const text = await readFile(this.file, 'utf8');
    const cut = text.lastIndexOf('\n') + 1;
    const aside = `${this.file}.torn-${this.#clock().toISOString().replace(/[:.]/g, '-')}`;
    // Keep the torn bytes for inspection, then rewrite the log without them, both durably.
    await writeFileDurably(aside, text.slice(cut));
    const mode = (await stat(this.file)).mode & 0o777;
    await writeFileDurably(`${this.file}.repair`, text.slice(0, cut), mode);
    await rename(`${this.file}.repair`, this.file);
    await syncDirectory(dirname(this.file));
    const last = text.slice(0, cut).trimEnd().split('\n').at(-1);
    const lastEntry = last ? (JSON.parse(last) as AuditEntry) : null;
    await this.append({
      actor: 'agent',
      action: 'audit.torn-tail-quarantined',
      box: lastEntry?.box ?? 'unknown',
      tier: lastEntry?.tier ?? 'host',
      envelopeDigest: null,
      outcome: 'accepted',
      reason: { code: 'EAUDIT_TORN', message: `line ${torn.line} was incomplete after a crash; its bytes were moved to ${aside}` },
    });
  }
}
