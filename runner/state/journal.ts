/**
 * The agent's job journal (docs/architecture.md#runner): every job the agent sees and each state it passes
 * through, in a durable lowdb document under the agent's state directory.
 *
 *   received → verified → running → succeeded
 *       │          │          └────→ failed   (carries the error's reason)
 *       └──────────┴───────────────→ rejected (carries the reason code)
 *                                    failed   (from received/verified too: a step before running broke)
 *                          running ⇄ waiting  (a box-side failure, retried with backoff; → failed when superseded)
 *
 * Each transition resolves only once it is on disk, so the agent records a step before it
 * starts it: after a crash the journal shows the step that was under way (a job left
 * `running` is the crash-recovery case).
 */
import { join } from 'node:path';
import type { Tier } from '../../stacks/spec/types.js';
import type { Reason } from './audit.js';
import { DurableStore, StateError } from './store.js';

export type JobState = 'received' | 'verified' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'rejected';
export type EnvelopeType = 'spec' | 'job';

const NEXT_STATES: Readonly<Record<JobState, readonly JobState[]>> = {
  received: ['verified', 'rejected', 'failed'],
  verified: ['running', 'rejected', 'failed'],
  running: ['succeeded', 'failed', 'waiting'],
  waiting: ['running', 'failed'],
  succeeded: [],
  failed: [],
  rejected: [],
};

export const FINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'rejected'];

/** What the agent knows about a job when it first receives it. */
export interface JobHeader {
  /** The envelope digest (sha256 hex) or the hub's job id. */
  readonly id: string;
  readonly box: string;
  readonly tier: Tier;
  readonly serial: number;
  readonly type: EnvelopeType;
  /** What the job does: `apply` for a spec; the job's action (`snapshot`, `refresh`, ...) otherwise. */
  readonly action: string;
  /** sha256 of the envelope bytes, when the id is not already the digest. @default - the id */
  readonly digest?: string;
  /** sha256 of the envelope file text: which copy (set of signatures) of the payload this entry judged. */
  readonly copy?: string;
}

export interface JournalTransition {
  readonly state: JobState;
  readonly at: string;
}

export interface JournalEntry extends JobHeader {
  readonly digest: string;
  readonly state: JobState;
  /** Why the job was rejected or failed. */
  readonly reason?: Reason;
  /** Every state the job passed through, oldest first. */
  readonly history: readonly JournalTransition[];
  readonly receivedAt: string;
  readonly updatedAt: string;
  /** A `waiting` job: how many box-side failures so far, and when it is tried again. */
  readonly retry?: RetrySchedule;
}

export interface RetrySchedule {
  readonly attempt: number;
  /** ISO time of the next try. */
  readonly nextAt: string;
}

/** What a (box, tier) last applied successfully. */
export interface AppliedMark {
  readonly serial: number;
  readonly jobId: string;
  readonly at: string;
  /** The digest of the last applied spec envelope (jobs do not change it). */
  readonly specDigest: string | null;
}

/**
 * The rollback floor of a (box, tier): the highest serial the box has verified there, specs and
 * jobs in one stream (TUF keeps it the same way). It is written in the same durable update that
 * marks an envelope verified, before anything is applied, and it never goes down: a failed apply
 * leaves it where it is.
 */
export interface VerifiedMark {
  readonly serial: number;
  /** The envelope that set it. */
  readonly digest: string;
  readonly at: string;
}

interface JournalData {
  version: 1;
  jobs: JournalEntry[];
  /** Kept apart from `jobs` so pruning old entries never forgets what was applied. */
  applied: Record<string, AppliedMark>;
  /** The rollback floor per (box, tier); absent in journals written before it existed. */
  verified?: Record<string, VerifiedMark>;
}

export class JournalError extends StateError {
  constructor(code: 'EJOURNAL_DUPLICATE' | 'EJOURNAL_UNKNOWN' | 'EJOURNAL_TRANSITION' | 'EJOURNAL_REASON', message: string) {
    super(code, 'stalled', message);
  }
}

export interface JournalOptions {
  /** Finished entries kept; older finished ones are pruned. Unfinished entries are never pruned. @default 1000 */
  readonly maxFinishedEntries?: number;
  readonly clock?: () => Date;
}

const key = (box: string, tier: Tier) => `${box}/${tier}`;

function checkJournal(data: JournalData): string | undefined {
  if (data.version !== 1) return `unknown journal version ${String(data.version)}`;
  if (!Array.isArray(data.jobs)) return 'jobs is not an array';
  if (data.applied === null || typeof data.applied !== 'object') return 'applied is not an object';
  if (data.verified !== undefined && (data.verified === null || typeof data.verified !== 'object')) return 'verified is not an object';
  return undefined;
}

export class Journal {
  readonly #store: DurableStore<JournalData>;
  readonly #maxFinished: number;
  readonly #clock: () => Date;

  private constructor(store: DurableStore<JournalData>, options: JournalOptions) {
    this.#store = store;
    this.#maxFinished = options.maxFinishedEntries ?? 1000;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** The journal file inside an agent state directory. */
  static fileIn(stateDir: string): string {
    return join(stateDir, 'journal.json');
  }

  /** Opens the journal at `<stateDir>/journal.json`, creating it on first use. */
  static async open(stateDir: string, options: JournalOptions = {}): Promise<Journal> {
    const store = await DurableStore.open<JournalData>(Journal.fileIn(stateDir), () => ({ version: 1, jobs: [], applied: {} }), checkJournal);
    return new Journal(store, options);
  }

  get file(): string {
    return this.#store.file;
  }

  /** Records a newly received job. A job id seen before is an error: look it up with {@link get} first. */
  async receive(header: JobHeader): Promise<JournalEntry> {
    const at = this.#clock().toISOString();
    const entry: JournalEntry = {
      id: header.id,
      box: header.box,
      tier: header.tier,
      serial: header.serial,
      type: header.type,
      action: header.action,
      digest: header.digest ?? header.id,
      ...(header.copy ? { copy: header.copy } : {}),
      state: 'received',
      history: [{ state: 'received', at }],
      receivedAt: at,
      updatedAt: at,
    };
    return this.#store.update((data) => {
      if (data.jobs.some((job) => job.id === header.id)) throw new JournalError('EJOURNAL_DUPLICATE', `job ${header.id} is already in the journal`);
      data.jobs.push(entry);
      return entry;
    });
  }

  /** Moves a job to its next state; `rejected` and `failed` need the reason. */
  /**
   * `options.specDigest`: a succeeded job that applied a spec of its own choosing (an `apply`
   * job naming a received spec) makes that spec the last applied one.
   */
  async transition(id: string, state: JobState, reason?: Reason, options: { specDigest?: string; retry?: RetrySchedule } = {}): Promise<JournalEntry> {
    const at = this.#clock().toISOString();
    // Checked inside the update, so two concurrent transitions of one job cannot both pass.
    return this.#store.update((data) => {
      const index = data.jobs.findIndex((job) => job.id === id);
      const current = data.jobs[index];
      if (!current) throw new JournalError('EJOURNAL_UNKNOWN', `job ${id} is not in the journal`);
      if (!NEXT_STATES[current.state].includes(state)) {
        throw new JournalError('EJOURNAL_TRANSITION', `job ${id} cannot go from ${current.state} to ${state}`);
      }
      if ((state === 'rejected' || state === 'failed' || state === 'waiting') && !reason) {
        throw new JournalError('EJOURNAL_REASON', `job ${id}: a ${state} job needs the reason`);
      }
      const next: JournalEntry = {
        ...current,
        state,
        // Kept through the retry's own `running`, so the next failure counts on from it.
        ...(options.retry ? { retry: options.retry } : {}),
        ...(reason ? { reason: { code: reason.code, message: reason.message } } : {}),
        history: [...current.history, { state, at }],
        updatedAt: at,
      };
      data.jobs[index] = next;
      if (state === 'verified') {
        // The floor rises with the verification itself, in this same fsynced write, and only up.
        const floors = (data.verified ??= {});
        const floorKey = key(next.box, next.tier);
        const previous = Object.hasOwn(floors, floorKey) ? floors[floorKey] : undefined;
        if (!previous || next.serial > previous.serial) floors[floorKey] = { serial: next.serial, digest: next.digest, at };
      }
      if (state === 'succeeded') {
        const previous = data.applied[key(next.box, next.tier)];
        if (!previous || next.serial > previous.serial) {
          data.applied[key(next.box, next.tier)] = {
            serial: next.serial,
            jobId: next.id,
            at,
            specDigest: next.type === 'spec' ? next.digest : (options.specDigest ?? previous?.specDigest ?? null),
          };
        }
      }
      if (FINAL_STATES.includes(state)) this.#prune(data);
      return next;
    });
  }

  /**
   * Moves a rejected entry out of the way under `<id>#<copy prefix>`, so another copy of the same
   * payload (other signatures) is journaled and judged on its own. Returns the new id.
   */
  async setAsideRejected(id: string): Promise<string> {
    return this.#store.update((data) => {
      const index = data.jobs.findIndex((job) => job.id === id);
      const current = data.jobs[index];
      if (!current) throw new JournalError('EJOURNAL_UNKNOWN', `job ${id} is not in the journal`);
      if (current.state !== 'rejected') throw new JournalError('EJOURNAL_TRANSITION', `job ${id} is ${current.state}; only a rejected copy is set aside`);
      const base = `${id}#${(current.copy ?? 'unknown').slice(0, 16)}`;
      let aside = base;
      for (let n = 2; data.jobs.some((job) => job.id === aside); n += 1) aside = `${base}.${n}`;
      data.jobs[index] = { ...current, id: aside };
      return aside;
    });
  }

  get(id: string): JournalEntry | undefined {
    return this.#store.data.jobs.find((job) => job.id === id);
  }

  /** The last successfully applied serial and spec digest for (box, tier), or null if none. */
  lastApplied(box: string, tier: Tier): AppliedMark | null {
    const applied = this.#store.data.applied;
    return Object.hasOwn(applied, key(box, tier)) ? applied[key(box, tier)]! : null;
  }

  /**
   * The rollback floor for (box, tier): the highest serial verified there, or the last applied
   * serial of a journal written before floors were kept (whichever is higher), or null.
   */
  verifiedFloor(box: string, tier: Tier): number | null {
    const floors = this.#store.data.verified ?? {};
    const mark = Object.hasOwn(floors, key(box, tier)) ? floors[key(box, tier)] : undefined;
    const applied = this.lastApplied(box, tier)?.serial;
    const highest = Math.max(mark?.serial ?? 0, applied ?? 0);
    return highest > 0 ? highest : null;
  }

  /** Jobs a crash interrupted while the engine ran them. */
  leftRunning(): JournalEntry[] {
    return this.#store.data.jobs.filter((job) => job.state === 'running');
  }

  /** Jobs not yet in a final state (received, verified or running). */
  unfinished(): JournalEntry[] {
    return this.#store.data.jobs.filter((job) => !FINAL_STATES.includes(job.state));
  }

  /** Every envelope digest the journal still names (set-aside copies included). */
  digests(): Set<string> {
    return new Set(this.#store.data.jobs.map((job) => job.digest));
  }

  /** The most recent entries, newest first. */
  recent(limit = 20): JournalEntry[] {
    return this.#store.data.jobs.slice(-limit).reverse();
  }

  #prune(data: JournalData): void {
    const finished = data.jobs.filter((job) => FINAL_STATES.includes(job.state));
    const excess = finished.length - this.#maxFinished;
    if (excess <= 0) return;
    const drop = new Set(finished.slice(0, excess).map((job) => job.id));
    data.jobs = data.jobs.filter((job) => !drop.has(job.id));
  }
}
