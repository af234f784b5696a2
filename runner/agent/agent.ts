/**
 * The agent: one cycle is an ordered list of steps (fluxcd's reconcilers are the model):
 *
 *   recover → fetch → for each envelope: journal → verify → apply → report → audit
 *
 * Each step returns a result or throws a typed error; the first error stops the cycle (or, for
 * an envelope refused or failed for good, that envelope's own steps, which end in a report and
 * an audit entry). Errors say how to handle them: `stalled` (a person must look), `waiting`
 * (retry later with backoff), `generic`. docs/agent.md describes every step and the state dir.
 *
 * Durability order: the journal records a step before it starts; the report and audit record of
 * a finished envelope go into the outbox (agent.json) before its journal entry turns final; an
 * audit entry is appended only if the log does not already hold it. So a kill at any moment
 * loses nothing and repeats nothing a person would see twice.
 */
import { join } from 'node:path';
import type { PulumiFn } from '@pulumi/pulumi/automation/index.js';
import {
  applyKeyRotation,
  EnvelopeError,
  isSignatureRefusal,
  loadTrustStore,
  SIGNATURE_REFUSAL_CODES,
  parseEnvelope,
  rotationInstalled,
  verifyEnvelope,
  type BodyValidator,
  type VerifiedEnvelope,
} from '../envelope/index.js';
import { checkDestructiveSteps, DestructiveStepError } from '../../policies/rules/stateful-protected.js';
import { EngineCancelledError, EngineRunError } from '../engine/errors.js';
import type { ChangeCounts, EngineOperation, EngineOutcome, Engines, StackTarget } from '../engine/run.js';
import type { InstalledPlugin } from '../engine/locate.js';
import { HubClient, HubError, HubRequestError } from '../hub/client.js';
import type { EngineSummary, ReportRequest } from '../hub/protocol.js';
import { verifyAuditLog, type AuditLog, type AuditRecord, type Reason } from '../state/audit.js';
import { divergenceFromHead } from '../state/audit-anchor.js';
import { FINAL_STATES, type JobHeader, type Journal, type JournalEntry, type RetrySchedule } from '../state/journal.js';
import type { Lock } from '../state/lock.js';
import type { DurableStore } from '../state/store.js';
import type { TierEnvironment } from '../../stacks/environment.js';
import type { ResolvedBox } from '../../stacks/spec/resolve.js';
import { stackName, type BoxSpec, type StorageSpec, type Tier } from '../../stacks/spec/types.js';
import { existingGuests, planDeploy, planRestore, runDeploy, runRestore, type HostOperations, type RestoreSource } from './deploy.js';
import { auditAction, workItem, type WorkItem } from './envelope-item.js';
import {
  AgentError,
  CapabilityError,
  EnvelopeLostError,
  errorKind,
  RestoreIncompleteError,
  RestoreInterruptedError,
  StoppingError,
  toReason,
  UnsupportedJobError,
  type ErrorKind,
} from './errors.js';
import { silentLogger, SecretRegistry, type Logger } from './logger.js';
import { coalescedRecord, countRefusal, repeatsRefusal } from './refusals.js';
import { isBoxSideFailure, isDue, retryAfter, SupersededError } from './retry.js';
import type { ProgramFactory } from './program.js';
import { EnvelopeArchive, type AgentStateData, type OutboxReport, type StateLayout } from './state-dir.js';
import type { StorageMonitor } from './storage-health.js';

/** Envelopes taken from one fetch; the rest wait for the next cycle, so a flood of junk is paid for in backoff, not at once. */
export const MAX_ENVELOPES_PER_CYCLE = 16;

/** Audit entries per upload request. */
const AUDIT_UPLOAD_SLICE = 500;

export type StepName = 'recover' | 'fetch' | 'journal' | 'verify' | 'apply' | 'report' | 'audit' | 'drift';

/** Called before each step starts; tests pause or announce here (kill -9 at a known step). */
export type BeforeStepHook = (step: StepName, item?: { digest: string; serial: number; action: string }) => void | Promise<void>;

export interface AgentOptions {
  readonly box: string;
  readonly tier: Tier;
  readonly layout: StateLayout;
  /** The trust store file; rotate-keys jobs rewrite it. */
  readonly trustPath: string;
  readonly hub: HubClient;
  readonly journal: Journal;
  readonly audit: AuditLog;
  readonly state: DurableStore<AgentStateData>;
  readonly engine: Engines;
  /** The stack passphrase (keys/stack-passphrase). */
  readonly passphrase: string;
  /** Builds the tier program for a resolved box. */
  readonly programFor: ProgramFactory;
  /** Validates and resolves a verified spec body (catalog, golden sizing). */
  readonly resolve: (spec: BoxSpec) => ResolvedBox;
  /** The box spec validator as an envelope body validator (rule 13). */
  readonly validateBody: BodyValidator;
  /** Plugins the program needs, checked before the engine starts. @default - none */
  readonly requiredPlugins?: (tier: Tier) => Promise<readonly InstalledPlugin[]>;
  /** Proxmox operations for snapshot-before-deploy, rollback, restore. @default - none (those jobs are refused) */
  readonly hostOperations?: HostOperations;
  /** The host tier's storage check after each cycle (runner/agent/storage-health.ts). @default - none */
  readonly storageMonitor?: StorageMonitor;
  readonly logger?: Logger;
  readonly secrets?: SecretRegistry;
  readonly env?: NodeJS.ProcessEnv;
  readonly clock?: () => Date;
  readonly beforeStep?: BeforeStepHook;
  /** Stops the agent: no new step starts; a running engine operation gets `engineGraceMs` to finish. */
  readonly stopSignal?: AbortSignal;
  /** @default 120 000 ms */
  readonly engineGraceMs?: number;
  /** Pulumi project name of the agent's stacks. @default felhom */
  readonly projectName?: string;
  /**
   * The policy pack folder (policies/pack.ts, `policyPackDirectory()`) every preview and up runs
   * with; a spec deploy previews with it before its up, so a mandatory violation stops the
   * deploy before any change (docs/policies.md). `openAgent` sets it for the real programs.
   * @default - no policy pack
   */
  readonly policyPack?: string;
  /**
   * The stack lock (runner/state/lock.ts), held for the agent's whole life: the journal, audit
   * log and agent state have one writer, and one engine runs per stack. Released by close().
   */
  readonly lock?: Lock;
}

export type ItemOutcome = 'succeeded' | 'failed' | 'rejected' | 'skipped';

export interface ItemResult {
  readonly digest: string;
  readonly serial: number;
  readonly action: string;
  readonly outcome: ItemOutcome;
  readonly reason?: Reason;
  readonly counts?: ChangeCounts;
  readonly durationMs?: number;
}

export interface CycleResult {
  /** `idle`: nothing new; `done`: envelopes processed; `waiting`/`stalled`/`failed`: the cycle stopped at an error. */
  readonly status: 'idle' | 'done' | 'waiting' | 'stalled' | 'failed';
  readonly items: readonly ItemResult[];
  /** Engine operations this cycle started. */
  readonly engineRuns: number;
  /** Envelopes (and changed answers) the hub served in this cycle's fetch: the daemon backs off when they brought only refusals. */
  readonly served: number;
  readonly error?: Reason & { readonly kind: ErrorKind; readonly step: StepName };
}

export interface DriftResult {
  readonly status: 'checked' | 'no-spec';
  readonly counts?: ChangeCounts;
  readonly drifted: boolean;
}

/** A journaled envelope whose signature and body passed verification, not yet applied. */
interface Admitted {
  readonly entry: JournalEntry;
  readonly verified: VerifiedEnvelope;
}

/** How far a restore got: set once its up applied the spec. */
interface RestoreProgress {
  applied?: { counts?: ChangeCounts };
}

const RESTORE_INTERRUPTED =
  'a restore was interrupted (the agent stopped during it) and is never repeated blindly: guests may be half restored; check them with pct list, then publish a new restore or apply job';

/**
 * The backup sources of a restore: the storages the job names (in that order, each must be in
 * the spec), else every storage of the spec with the `backup` role. Each is asked whether it is
 * available, and an available one for its backups.
 */
export async function restoreSources(ops: HostOperations, box: ResolvedBox, named: unknown): Promise<RestoreSource[]> {
  const byName = new Map(box.storage.map((storage) => [storage.name, storage]));
  let chosen: { storage: StorageSpec; preference?: number }[];
  if (Array.isArray(named)) {
    chosen = named.map((name, index) => {
      const storage = byName.get(String(name));
      if (!storage) throw new AgentError('ERESTORE_SOURCE', 'stalled', `body.sources[${index}]: ${JSON.stringify(name)} is not a storage of the spec (it has ${[...byName.keys()].join(', ')})`);
      return { storage, preference: index };
    });
  } else chosen = box.storage.filter((storage) => storage.roles.includes('backup')).map((storage) => ({ storage }));
  const sources: RestoreSource[] = [];
  for (const { storage, preference } of chosen) {
    const available = await ops.isAvailable(storage.name);
    sources.push({
      storage: storage.name,
      tier: storage.type === 'pbs' ? 'pbs' : 'local',
      class: storage.class,
      available,
      backups: available ? await ops.listBackups(storage.name) : [],
      ...(preference !== undefined ? { preference } : {}),
    });
  }
  return sources;
}

/** A failure inside an envelope's steps, remembered with the step it happened in. */
class StepFailure extends Error {
  constructor(readonly step: StepName, readonly error: unknown) {
    super(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

export class Agent {
  readonly box: string;
  readonly tier: Tier;
  readonly #o: AgentOptions;
  readonly #log: Logger;
  readonly #archive: EnvelopeArchive;
  readonly #secrets: SecretRegistry;
  #engineRuns = 0;
  #served = 0;

  constructor(options: AgentOptions) {
    this.#o = options;
    this.box = options.box;
    this.tier = options.tier;
    this.#log = options.logger ?? silentLogger;
    this.#secrets = options.secrets ?? new SecretRegistry();
    this.#secrets.add(options.passphrase);
    this.#archive = new EnvelopeArchive(options.layout.envelopes);
  }

  get #key(): string {
    return `${this.box}/${this.tier}`;
  }

  /** Releases the stack lock; the agent must not be used afterwards. */
  async close(): Promise<void> {
    await this.#o.lock?.release();
  }

  get stackName(): string {
    return stackName(this.box, this.tier);
  }

  // ---- the cycle ------------------------------------------------------------------------------

  /**
   * One cycle. `waitSeconds` > 0 long-polls the hub for changes; `retryNow` retries envelopes
   * waiting on a box-side fix before their backoff is over (a person ran `agent once`).
   */
  async cycle(options: { waitSeconds?: number; retryNow?: boolean } = {}): Promise<CycleResult> {
    const items: ItemResult[] = [];
    const runsBefore = this.#engineRuns;
    this.#served = 0;
    let step: StepName = 'recover';
    try {
      // recover: envelopes a previous run left unfinished (a crash, a held lock) go first, and
      // those waiting on a box-side fix once their backoff is over.
      await this.#step('recover');
      const now = this.#now();
      const unfinished = this.#o.journal
        .unfinished()
        .filter((job) => job.box === this.box && job.tier === this.tier && (job.state !== 'waiting' || options.retryNow || isDue(job.retry, now)));
      for (let index = 0; index < unfinished.length; index += 1) {
        const entry = unfinished[index]!;
        const next = unfinished[index + 1];
        if (next && this.#carriesSpec(entry, next)) {
          index += 1;
          const [specItem, jobItem] = await Promise.all([this.#itemFor(entry), this.#itemFor(next)]);
          if ('outcome' in specItem || 'outcome' in jobItem) {
            items.push('outcome' in specItem ? specItem : await this.#process(specItem), 'outcome' in jobItem ? jobItem : await this.#process(jobItem));
          } else items.push(...(await this.#processRestorePair(specItem, jobItem)));
          continue;
        }
        const item = await this.#itemFor(entry);
        items.push('outcome' in item ? item : await this.#process(item));
      }
      await this.#deliver();

      step = 'fetch';
      await this.#step('fetch');
      const fetched = await this.#fetch(options.waitSeconds ?? 0);
      for (let index = 0; index < fetched.length; index += 1) {
        const item = fetched[index]!;
        const next = fetched[index + 1];
        if (next && this.#carriesSpec(item.header, next.header)) {
          index += 1;
          items.push(...(await this.#processRestorePair(item, next)));
        } else items.push(await this.#process(item));
      }
    } catch (error) {
      const failure = error instanceof StepFailure ? error : new StepFailure(step, error);
      const kind = errorKind(failure.error);
      const reason = toReason(failure.error);
      // A stop asked for (SIGTERM) is the normal end of a daemon, not a problem.
      const log = failure.error instanceof StoppingError ? this.#log.info : kind === 'waiting' ? this.#log.warn : this.#log.error;
      log('cycle stopped', { step: failure.step, kind, ...reason });
      await this.#tidy().catch((error: unknown) => this.#log.warn('tidying after the cycle failed', { ...toReason(error) }));
      return { status: kind === 'generic' ? 'failed' : kind, items, engineRuns: this.#engineRuns - runsBefore, served: this.#served, error: { ...reason, kind, step: failure.step } };
    }
    if (this.#o.storageMonitor && this.tier === 'host') await this.#checkStorage(this.#o.storageMonitor);
    await this.#tidy().catch((error: unknown) => this.#log.warn('tidying after the cycle failed', { ...toReason(error) }));
    const worked = items.some((item) => item.outcome !== 'skipped');
    return { status: worked ? 'done' : 'idle', items, engineRuns: this.#engineRuns - runsBefore, served: this.#served };
  }

  /** After a cycle: the counted refusals go into the audit log as one entry; the archive forgets what the journal forgot. */
  async #tidy(): Promise<void> {
    const pending = this.#o.state.data.coalesced;
    if (pending) {
      await this.#o.audit.append(coalescedRecord(pending));
      await this.#o.state.update((data) => {
        data.coalesced = null;
      });
    }
    const keep = this.#o.journal.digests();
    const spec = this.#o.journal.lastApplied(this.box, this.tier)?.specDigest;
    if (spec) keep.add(spec);
    await this.#archive.prune((digest) => keep.has(digest));
  }

  /** Storage health of the applied spec's manifest; reported when a target's condition changes. */
  async #checkStorage(monitor: StorageMonitor): Promise<void> {
    if (!this.#o.journal.lastApplied(this.box, this.tier)?.specDigest) return;
    try {
      const result = await monitor.check(this.#o.resolve(await this.#lastAppliedSpec()), this.#now());
      if (result.held.length || result.released.length) this.#log.warn('backup jobs held for their storage', { held: result.held, released: result.released });
      if (!result.changed) return;
      const at = this.#now().toISOString();
      const reason = result.report.healthy ? undefined : { code: 'ESTORAGE', message: result.lines.join(' | ') };
      this.#log[reason ? 'warn' : 'info']('storage check', { healthy: result.report.healthy, ...(reason ? { problems: result.lines.length } : {}) });
      await this.#o.state.update((data) => {
        data.outbox.push({
          report: { box: this.box, jobId: `storage-${this.stackName}-${at}`, tier: this.tier, outcome: reason ? 'failed' : 'succeeded', ...(reason ? { reason } : {}) },
          audit: { actor: 'agent', action: 'storage.check', box: this.box, tier: this.tier, envelopeDigest: null, outcome: reason ? 'failed' : 'succeeded', ...(reason ? { reason } : {}) },
          audited: false,
        });
      });
      await this.#deliver();
    } catch (error) {
      // A storage check that cannot run is itself news, but must not stop the cycle's own work.
      this.#log.warn('storage check failed', { ...toReason(error) });
    }
  }

  async #step(step: StepName, item?: WorkItem | JournalEntry): Promise<void> {
    if (this.#o.stopSignal?.aborted) throw new StepFailure(step, new StoppingError(`the agent is stopping; the ${step} step was not started`));
    if (this.#o.beforeStep) {
      const header = item && 'header' in item ? item.header : item;
      await this.#o.beforeStep(step, header ? { digest: header.id, serial: header.serial, action: header.action } : undefined);
    }
  }

  /** fetch: the desired spec and the pending jobs, conditional on what the box already holds. */
  async #fetch(waitSeconds: number): Promise<WorkItem[]> {
    const state = this.#o.state.data;
    const specEtag = state.specEtags[this.#key];
    const jobEtag = state.jobEtags[this.#key];
    const poll = waitSeconds > 0 ? new AbortController() : undefined;
    const signal = poll ? AbortSignal.any([poll.signal, ...(this.#o.stopSignal ? [this.#o.stopSignal] : [])]) : this.#o.stopSignal;
    const aborted = Symbol('aborted');
    // Both long polls at once; the first that brings news ends the other.
    const guard = async <T>(request: Promise<T>, isNews: (value: T) => boolean): Promise<T | typeof aborted> => {
      try {
        const value = await request;
        if (isNews(value)) poll?.abort();
        return value;
      } catch (error) {
        // Our own abort (the other poll brought news, or the agent is stopping) is not a hub failure.
        if ((poll?.signal.aborted || this.#o.stopSignal?.aborted) && !(error instanceof HubError)) return aborted;
        throw error;
      }
    };
    const common = { ...(waitSeconds > 0 ? { waitSeconds } : {}), ...(signal ? { signal } : {}) };
    const [spec, jobs] = await Promise.all([
      guard(this.#o.hub.fetchSpec(this.box, this.tier, { etag: specEtag ?? null, ...common }), (value) => value.status === 'changed'),
      guard(this.#o.hub.fetchJobs(this.box, this.tier, { etag: jobEtag ?? null, ...common }), (value) => value.status === 'changed'),
    ]);
    if (this.#o.stopSignal?.aborted) throw new StoppingError('the agent is stopping');

    const items: WorkItem[] = [];
    if (spec !== aborted && spec.status === 'changed') {
      this.#served += 1;
      const item = workItem('spec', spec.envelope, this.box, this.tier, spec.etag);
      const lastApplied = this.#o.journal.lastApplied(this.box, this.tier);
      // Already final, or the spec last applied: nothing to do, remember the ETag. One the
      // journal holds unfinished (waiting on a box-side fix) is the recover step's.
      const entry = this.#o.journal.get(item.digest);
      if (this.#isDone(item) || lastApplied?.specDigest === item.digest) await this.#rememberSpecEtag(spec.etag);
      else if (!entry || FINAL_STATES.includes(entry.state)) items.push(item);
    }
    let more = false;
    if (jobs !== aborted && jobs.status === 'changed') {
      // A changed job list counts even when empty: a hub claiming news that brings none is paced too.
      this.#served += Math.max(1, jobs.jobs.length);
      for (const job of jobs.jobs) {
        const item = workItem('job', job.envelope, this.box, this.tier);
        const entry = this.#o.journal.get(item.digest);
        if (!entry || (FINAL_STATES.includes(entry.state) && !this.#isDone(item))) items.push(item);
      }
      // Serials are one sequence over specs and jobs: apply them in the order the operator issued them.
      items.sort((a, b) => a.header.serial - b.header.serial);
      more = items.length > MAX_ENVELOPES_PER_CYCLE;
      // The job list's ETag is kept only once every job in it was taken, so the rest come next cycle.
      if (!more) {
        await this.#o.state.update((data) => {
          data.jobEtags[this.#key] = jobs.etag;
        });
      }
    }
    items.sort((a, b) => a.header.serial - b.header.serial);
    if (more) this.#log.warn('more envelopes than one cycle takes; the rest come next cycle', { served: items.length, taken: MAX_ENVELOPES_PER_CYCLE });
    return items.slice(0, MAX_ENVELOPES_PER_CYCLE);
  }

  /**
   * Whether this copy of an envelope needs nothing more: its payload is final in the journal,
   * unless it was refused at the signature rules as a *different* copy (other signatures), which
   * says nothing about this one (docs/agent.md "Copies of one envelope").
   */
  #isDone(item: WorkItem): boolean {
    const entry = this.#o.journal.get(item.digest);
    if (entry === undefined || !FINAL_STATES.includes(entry.state)) return false;
    if (!this.#refusedAtSignatures(entry) || entry.copy === undefined || entry.copy === item.copy) return true;
    // Judged before under a set-aside id: the same copy again changes nothing.
    return this.#o.journal.get(`${item.digest}#${item.copy.slice(0, 16)}`) !== undefined;
  }

  #refusedAtSignatures(entry: JournalEntry): boolean {
    return entry.state === 'rejected' && entry.reason !== undefined && SIGNATURE_REFUSAL_CODES.has(entry.reason.code);
  }

  async #rememberSpecEtag(etag: string | undefined): Promise<void> {
    if (!etag || this.#o.state.data.specEtags[this.#key] === etag) return;
    await this.#o.state.update((data) => {
      data.specEtags[this.#key] = etag;
    });
  }

  /** An unfinished journal entry as a work item again, from its archived envelope (or its failure when the envelope is lost). */
  async #itemFor(entry: JournalEntry): Promise<WorkItem | ItemResult> {
    const envelope = await this.#archive.get(entry.id);
    if (envelope === undefined) {
      const lost = new EnvelopeLostError(`envelope ${entry.id.slice(0, 12)} of the unfinished ${entry.action} job is not in the archive; it cannot be retried`);
      return this.#finish(entry, entry.state === 'running' || entry.state === 'verified' || entry.state === 'received' ? 'failed' : 'rejected', lost, null);
    }
    this.#log.info('resuming an unfinished envelope', { digest: entry.id, state: entry.state, action: entry.action });
    return { ...workItem(entry.type, envelope, this.box, this.tier), header: entry };
  }

  /**
   * Whether `job` is a restore job carrying the spec just before it (docs/architecture.md#restore-mode): on
   * the host tier a spec issued with a restore directive is provisioned BY the restore, never on
   * its own first (that would be a clean provision, creating empty guests where backups belong).
   */
  #carriesSpec(spec: Pick<JobHeader, 'type' | 'serial'>, job: Pick<JobHeader, 'type' | 'action' | 'serial'>): boolean {
    return this.tier === 'host' && spec.type === 'spec' && job.type === 'job' && job.action === 'restore' && job.serial > spec.serial;
  }

  /** journal → verify → apply → report → audit, for one envelope. */
  async #process(item: WorkItem): Promise<ItemResult> {
    const received = await this.#receive(item);
    if ('outcome' in received) return received;
    const admitted = await this.#admit(item, received);
    if ('outcome' in admitted) return admitted;
    return this.#run(item, admitted);
  }

  /** journal: record the envelope as received before believing any of it. */
  async #receive(item: WorkItem): Promise<JournalEntry | ItemResult> {
    await this.#step('journal', item);
    const entry = this.#o.journal.get(item.digest);
    if (entry && FINAL_STATES.includes(entry.state)) {
      if (this.#isDone(item)) return { digest: item.digest, serial: item.header.serial, action: item.header.action, outcome: 'skipped' };
      // Another copy of this payload was refused at the signature rules: that copy's entry
      // steps aside and this one is journaled, verified and audited on its own.
      const aside = await this.#o.journal.setAsideRejected(entry.id);
      this.#log.info('a differently signed copy of a refused envelope arrived; it is judged on its own', { digest: item.digest, refusedCopy: aside });
    } else if (entry) return entry;
    if (item.parsed) await this.#archive.put(item.digest, item.envelope);
    return this.#o.journal.receive(item.header);
  }

  /** verify: the same checks, in the same order, as `felhom verify`; pure, writes nothing but the journal and audit. */
  async #admit(item: WorkItem, received: JournalEntry): Promise<Admitted | ItemResult> {
    let entry = received;
    await this.#step('verify', item);
    let verified: VerifiedEnvelope;
    try {
      const trust = await loadTrustStore(this.#o.trustPath);
      verified = await verifyEnvelope(item.envelope, {
        trust,
        box: this.box,
        tier: this.tier,
        // An entry past `received` passed the floor when it was verified (the journal says so);
        // it is checked again for everything else, but its own serial is not a replay of itself.
        ...(entry.state === 'received' ? this.#lastSerial() : { lastSerial: entry.serial - 1 }),
        now: this.#now(),
        validateBody: this.#o.validateBody,
      });
    } catch (error) {
      if (errorKind(error) === 'waiting') throw new StepFailure('verify', error);
      const outcome = entry.state === 'running' || entry.state === 'waiting' ? 'failed' : error instanceof EnvelopeError ? 'rejected' : 'failed';
      // A refused envelope is never needed again; a copy refused at the signature rules must not
      // stand in for a differently signed copy in the archive.
      if (outcome === 'rejected' || isSignatureRefusal(error)) await this.#archive.discard(item.digest, item.envelope).catch(() => undefined);
      return this.#finish(entry, outcome, error, null);
    }
    if (entry.state === 'received') {
      await this.#appendAuditOnce({ ...this.#auditBase(entry, verified), outcome: 'accepted' });
      // The floor rises here, before anything is applied (runner/state/journal.ts).
      entry = await this.#o.journal.transition(entry.id, 'verified');
      await this.#supersedeWaiting(entry);
    }
    return { entry, verified };
  }

  /** Envelopes waiting on a box-side fix below a newly verified serial are given up: the newer one takes their place. */
  async #supersedeWaiting(newer: JournalEntry): Promise<void> {
    for (const waiting of this.#o.journal.unfinished()) {
      if (waiting.state !== 'waiting' || waiting.box !== this.box || waiting.tier !== this.tier || waiting.serial >= newer.serial) continue;
      const error = new SupersededError(waiting.serial, newer.serial);
      this.#log.warn('a waiting envelope was superseded', { digest: waiting.id, serial: waiting.serial, by: newer.serial });
      await this.#o.journal.transition(waiting.id, 'failed', toReason(error));
    }
  }

  /** apply → report → audit, for one verified envelope. */
  async #run(item: WorkItem, admitted: Admitted): Promise<ItemResult> {
    let { entry } = admitted;
    const { verified } = admitted;
    // apply: under the stack lock (held for the agent's life, see open.ts); `running` is on disk before the engine starts.
    await this.#step('apply', item);
    let result: { counts?: ChangeCounts; appliedSpec?: string };
    const started = performance.now();
    try {
      const resumedRunning = entry.state === 'running';
      if (!resumedRunning) entry = await this.#o.journal.transition(entry.id, 'running');
      result = await this.#apply(verified, resumedRunning);
    } catch (error) {
      if (error instanceof EngineCancelledError || errorKind(error) === 'waiting') {
        // Left `running` on purpose: the next start recovers the stack and retries it.
        this.#log.warn('engine operation interrupted; the job stays running and is retried', { digest: entry.id, ...toReason(error) });
        throw new StepFailure('apply', error);
      }
      // A restore that ran its up but left guests unrecovered still reports what the up changed.
      const counts = error instanceof RestoreIncompleteError ? error.counts : undefined;
      // A box-side failure (a secret not yet in place, a missing plugin) waits and is retried.
      const retry = isBoxSideFailure(error) ? retryAfter((entry.retry?.attempt ?? 0) + 1, this.#now()) : undefined;
      const failed = await this.#finish(entry, 'failed', error, verified, Math.round(performance.now() - started), counts, undefined, retry);
      if (item.source === 'spec') await this.#rememberSpecEtag(item.etag);
      return failed;
    }
    const durationMs = Math.round(performance.now() - started);
    const done = await this.#finish(entry, 'succeeded', undefined, verified, durationMs, result.counts, result.appliedSpec);
    if (item.source === 'spec') await this.#rememberSpecEtag(item.etag);
    return done;
  }

  /** The rollback floor: the highest serial verified for this box and tier (docs/envelope.md rules 9 and 10). */
  #lastSerial(): { lastSerial?: number } {
    const floor = this.#o.journal.verifiedFloor(this.box, this.tier);
    return floor !== null ? { lastSerial: floor } : {};
  }

  #now(): Date {
    return this.#o.clock?.() ?? new Date();
  }

  /** What a verified envelope asks for, carried out. */
  async #apply(verified: VerifiedEnvelope, resumed: boolean): Promise<{ counts?: ChangeCounts; appliedSpec?: string }> {
    const { header } = verified;
    if (header.type === 'spec') return this.#deploy(verified.body as unknown as BoxSpec, resumed);
    const body = verified.body;
    const action = body.action as string;
    switch (action) {
      case 'rotate-keys':
        // Killed after the store was written and before the journal was: it took effect.
        if (resumed && (await rotationInstalled(verified, this.#o.trustPath))) {
          this.#log.info('the interrupted rotation is already in the trust store; recorded as succeeded', { digest: verified.digest });
          return {};
        }
        // Trusted state changes only here, after every check passed.
        await applyKeyRotation(verified, this.#o.trustPath);
        return {};
      case 'apply': {
        const capabilities = Array.isArray(body.capabilities) ? body.capabilities.filter((capability): capability is string => typeof capability === 'string') : [];
        if (typeof body.spec !== 'string') return this.#deploy(await this.#lastAppliedSpec(), resumed, capabilities);
        // A received spec the destructive-step gate refused, applied now with the capabilities
        // this signed job grants (docs/agent.md "Deliberate destruction").
        const spec = await this.#receivedSpec(body.spec);
        return { ...(await this.#deploy(spec, resumed, capabilities)), appliedSpec: body.spec };
      }
      case 'preview': {
        const outcome = await this.#engineOp('preview', await this.#lastAppliedSpec(), resumed);
        return { counts: outcome.counts };
      }
      case 'refresh': {
        // Drift is reported, never corrected: refresh records reality, preview says what up would change.
        const spec = await this.#lastAppliedSpec();
        await this.#engineOp('refresh', spec, resumed);
        const preview = await this.#engineOp('preview', spec, false);
        return { counts: preview.counts };
      }
      case 'destroy': {
        const capabilities = Array.isArray(body.capabilities) ? body.capabilities : [];
        if (!capabilities.includes('destroy')) throw new CapabilityError("a destroy job must carry capabilities: ['destroy'] in its signed body");
        const outcome = await this.#engineOp('destroy', await this.#lastAppliedSpec(), resumed);
        return { counts: outcome.counts };
      }
      case 'snapshot':
      case 'rollback': {
        const ops = this.#o.hostOperations;
        if (!ops) throw new UnsupportedJobError(`a ${action} job needs Proxmox host operations, which this agent does not have`);
        const vmId = Number(body.vmId);
        const name = String(body.name ?? '');
        if (!Number.isSafeInteger(vmId) || vmId < 100) throw new UnsupportedJobError(`body.vmId: expected a guest id (>= 100), got ${JSON.stringify(body.vmId)}`);
        if (action === 'snapshot') await ops.snapshot(vmId, name);
        else await ops.rollback(vmId, name);
        return {};
      }
      case 'restore': {
        this.#restoreOperations();
        if (resumed) throw new RestoreInterruptedError(RESTORE_INTERRUPTED);
        return this.#restore(body, await this.#lastAppliedSpec(), {});
      }
      default:
        throw new UnsupportedJobError(`unknown job action ${JSON.stringify(action)}`);
    }
  }

  // ---- restore mode (docs/architecture.md#restore-mode) ------------------------------------------------------------------

  /** The host operations a restore needs; refused on other tiers and without them. */
  #restoreOperations(): HostOperations {
    if (this.tier !== 'host') throw new UnsupportedJobError(`a restore job runs on the host tier only, not on ${this.tier}`);
    if (!this.#o.hostOperations) throw new UnsupportedJobError('a restore job needs Proxmox host operations, which this agent does not have');
    return this.#o.hostOperations;
  }

  /**
   * A spec and the restore job carrying it (same batch, spec first): both journaled before
   * either is believed, both verified, then one apply step restores the guests and applies the
   * spec. The spec finishes first, so it becomes the last applied spec when the up succeeded.
   */
  async #processRestorePair(specItem: WorkItem, jobItem: WorkItem): Promise<ItemResult[]> {
    const specReceived = await this.#receive(specItem);
    const jobReceived = await this.#receive(jobItem);
    if ('outcome' in specReceived || 'outcome' in jobReceived) {
      // One of them finished earlier: nothing is carried, each goes its own way.
      return [
        'outcome' in specReceived ? specReceived : await this.#process(specItem),
        'outcome' in jobReceived ? jobReceived : await this.#process(jobItem),
      ];
    }
    const interrupted = specReceived.state === 'running' || jobReceived.state === 'running';
    const spec = await this.#admit(specItem, specReceived);
    const job = await this.#admit(jobItem, jobReceived);
    // A refused spec: the restore, if admitted, falls back to the last applied spec (ENO_SPEC on a new box).
    if ('outcome' in spec) return [spec, 'outcome' in job ? job : await this.#run(jobItem, job)];
    if ('outcome' in job) {
      const refused = new AgentError('ERESTORE_REFUSED', 'stalled', `this spec was issued with restore job ${job.digest.slice(0, 12)}, which was refused (${job.reason?.code}); it was not applied on its own: publish both again`);
      const failed = await this.#finish(spec.entry, 'failed', refused, spec.verified);
      await this.#rememberSpecEtag(specItem.etag);
      return [failed, job];
    }
    if (interrupted) {
      const error = new RestoreInterruptedError(RESTORE_INTERRUPTED);
      const results = [await this.#finish(spec.entry, 'failed', error, spec.verified), await this.#finish(job.entry, 'failed', error, job.verified)];
      await this.#rememberSpecEtag(specItem.etag);
      return results;
    }

    await this.#step('apply', jobItem);
    // `running` is on disk for both before the first pct call.
    const specEntry = await this.#o.journal.transition(spec.entry.id, 'running');
    const jobEntry = await this.#o.journal.transition(job.entry.id, 'running');
    const progress: RestoreProgress = {};
    const started = performance.now();
    let failure: unknown;
    try {
      await this.#restore(job.verified.body, spec.verified.body as unknown as BoxSpec, progress);
    } catch (error) {
      failure = error;
    }
    const durationMs = Math.round(performance.now() - started);
    const counts = progress.applied?.counts;
    const specResult = progress.applied
      ? await this.#finish(specEntry, 'succeeded', undefined, spec.verified, durationMs, counts)
      : await this.#finish(specEntry, 'failed', failure, spec.verified, durationMs);
    await this.#rememberSpecEtag(specItem.etag);
    const jobResult = await this.#finish(jobEntry, failure === undefined ? 'succeeded' : 'failed', failure, job.verified, durationMs, counts);
    return [specResult, jobResult];
  }

  /**
   * The restore directive: list each source's backups, plan (the operator's `sources` order, else
   * fastest surviving first), `pct restore` + `pct start` per guest, then one `up` of `spec` in
   * which the restored guests are adopted (`import`), not created. Guests no source holds are
   * created empty by that up, and the job fails with ERESTORE_INCOMPLETE naming them.
   */
  async #restore(body: Record<string, unknown>, spec: BoxSpec, progress: RestoreProgress): Promise<{ counts?: ChangeCounts }> {
    const ops = this.#restoreOperations();
    const box = this.#o.resolve(spec);
    // On a bare host (new hardware: nothing applied yet) the backup storages do not exist, so
    // nothing could be listed or restored from them: attach the storage manifest first. On a
    // host that has applied a spec they exist already, and a partial up must not run there.
    if (!this.#o.journal.lastApplied(this.box, this.tier)) {
      await this.#engineOp('up', spec, false, box, { storagesOnly: true });
      this.#log.info('restore: storages attached on a bare host', { storages: box.storage.map((storage) => storage.name) });
    }
    const sources = await restoreSources(ops, box, body.sources);
    const plan = planRestore(box.guests, sources, box.host.rootStorage);
    const restores = plan.actions.filter((action) => action.kind === 'restore');
    this.#log.info('restore planned', {
      restores: restores.map((action) => `${action.vmId} from ${action.from}`),
      unrecoverable: plan.unrecoverable,
      unavailable: sources.filter((source) => !source.available).map((source) => source.storage),
    });
    const adoptGuests = restores.map((action) => action.vmId);
    await runRestore(plan, {
      ops,
      up: async () => {
        progress.applied = { counts: (await this.#engineOp('up', spec, false, box, { adoptGuests })).counts };
      },
    });
    if (plan.unrecoverable.length > 0) {
      const done = restores.length > 0 ? `restored guest(s) ${restores.map((action) => `${action.vmId} from ${action.from}`).join(', ')}` : 'restored no guest';
      const tried = sources.map((source) => (source.available ? source.storage : `${source.storage} (unavailable)`)).join(', ') || 'none';
      throw new RestoreIncompleteError(
        `restore incomplete: ${done}; no available source holds a backup of guest(s) ${plan.unrecoverable.join(', ')} (sources: ${tried}), so the spec's up created them empty`,
        plan.unrecoverable,
        progress.applied?.counts,
      );
    }
    return progress.applied?.counts ? { counts: progress.applied.counts } : {};
  }

  /**
   * A spec deploy: the destructive-step gate, snapshot-before-deploy, up, health check, keep or
   * roll back (docs/agent.md).
   */
  async #deploy(spec: BoxSpec, resumed: boolean, capabilities: readonly string[] = []): Promise<{ counts?: ChangeCounts }> {
    const box = this.#o.resolve(spec);
    // The stateful-protected policy in the engine (docs/policies.md): analyzer policies never see
    // a delete or a replacement, so the host tier previews a change to existing state first and
    // refuses one that would destroy a guest or a storage. A spec carries no capability to allow
    // it; `protect` would stop the engine too, but only half-way through an update.
    // With the policy pack the preview comes first on every tier: a mandatory violation stops
    // the deploy there, before the up could change anything.
    if (this.#o.policyPack !== undefined || (this.tier === 'host' && this.#o.journal.lastApplied(this.box, this.tier))) {
      const preview = await this.#engineOp('preview', spec, resumed, box);
      resumed = false;
      const blocked = checkDestructiveSteps(preview.steps, capabilities);
      if (blocked.length > 0) throw new AgentError('EPOLICY_DESTRUCTIVE', 'stalled', new DestructiveStepError(blocked).message);
    }
    const guests = this.tier === 'host' ? box.guests.map((guest) => ({ name: guest.name, vmId: guest.vmId })) : [];
    const plan = planDeploy({
      snapshotBeforeDeploy: box.backup.snapshotBeforeDeploy,
      guests,
      // A guest this deploy creates has nothing to snapshot yet (the first deploy on a new host).
      existing: await existingGuests(this.#o.hostOperations, guests.map((guest) => guest.vmId)),
      hostOperations: this.#o.hostOperations !== undefined,
      snapshotName: `felhom-predeploy-${this.#now().toISOString().replace(/\D/g, '').slice(0, 14)}`,
    });
    let counts: ChangeCounts | undefined;
    await runDeploy(plan, {
      ...(this.#o.hostOperations ? { ops: this.#o.hostOperations } : {}),
      up: async () => {
        counts = (await this.#engineOp('up', spec, resumed, box)).counts;
      },
      refresh: async () => {
        await this.#engineOp('refresh', spec, false, box);
      },
    });
    return counts ? { counts } : {};
  }

  /**
   * A spec envelope this box received (by payload digest), verified again as when it arrived:
   * trusted keys, this box and tier, a spec, and newer than the last applied serial.
   */
  async #receivedSpec(digest: string): Promise<BoxSpec> {
    const envelope = /^[0-9a-f]{64}$/.test(digest) ? await this.#archive.get(digest) : undefined;
    if (!envelope) throw new AgentError('ESPEC_UNKNOWN', 'stalled', `apply names spec ${digest.slice(0, 12)}, which this box has not received: publish the spec first`);
    // The job naming it passed the floor; the spec itself must still be newer than what is applied.
    const applied = this.#o.journal.lastApplied(this.box, this.tier);
    const verified = await verifyEnvelope(envelope, {
      trust: await loadTrustStore(this.#o.trustPath),
      box: this.box,
      tier: this.tier,
      type: 'spec',
      ...(applied ? { lastSerial: applied.serial } : {}),
      now: this.#now(),
      validateBody: this.#o.validateBody,
    });
    return verified.body as unknown as BoxSpec;
  }

  async #lastAppliedSpec(): Promise<BoxSpec> {
    const applied = this.#o.journal.lastApplied(this.box, this.tier);
    const digest = applied?.specDigest;
    if (!digest) throw new AgentError('ENO_SPEC', 'stalled', `no spec has been applied to ${this.stackName} yet; publish one first`);
    const envelope = await this.#archive.get(digest);
    if (!envelope) throw new EnvelopeLostError(`the last applied spec ${digest.slice(0, 12)} is not in the envelope archive`);
    // Trusted: it was verified when applied, and the archive checks the payload still hashes to its name.
    return (JSON.parse(parseEnvelope(envelope).payload) as { body: BoxSpec }).body;
  }

  async #target(box: ResolvedBox): Promise<StackTarget> {
    const plugins = this.#o.requiredPlugins ? await this.#o.requiredPlugins(this.tier) : undefined;
    return {
      projectName: this.#o.projectName ?? 'felhom',
      stackName: this.stackName,
      stateDir: this.#o.layout.engine,
      passphrase: this.#o.passphrase,
      ...(plugins ? { requiredPlugins: plugins } : {}),
      ...(this.#o.policyPack !== undefined ? await this.#policyTarget(box, this.#o.policyPack) : {}),
    };
  }

  /** The pack, and the resolved box it reads (FELHOM_POLICY_BOX) written beside the engine state. */
  async #policyTarget(box: ResolvedBox, pack: string): Promise<Pick<StackTarget, 'policyPacks' | 'envVars'>> {
    const { POLICY_BOX_ENV, writePolicyBox } = await import('../../policies/pack.js');
    const file = join(this.#o.layout.root, `policy-box.${this.tier}.json`);
    await writePolicyBox(box, file);
    return { policyPacks: [pack], envVars: { [POLICY_BOX_ENV]: file } };
  }

  async #program(spec: BoxSpec, box?: ResolvedBox, extra: Pick<TierEnvironment, 'adoptGuests' | 'storagesOnly'> = {}): Promise<PulumiFn> {
    const resolved = box ?? this.#o.resolve(spec);
    // Loaded here, not at start: it brings in the Pulumi SDK, which an idle agent does not need.
    const { agentEnvironment } = await import('./environment.js');
    const env: TierEnvironment = await agentEnvironment(spec, { layout: this.#o.layout, env: this.#o.env ?? process.env, secrets: this.#secrets, needsProxmoxToken: this.tier === 'host' });
    return this.#o.programFor(this.tier, resolved, { ...env, ...extra });
  }

  /** One engine operation; a resumed job first clears what a killed engine left behind. */
  async #engineOp(operation: EngineOperation, spec: BoxSpec, resumed: boolean, box?: ResolvedBox, extra: Pick<TierEnvironment, 'adoptGuests' | 'storagesOnly'> = {}): Promise<EngineOutcome> {
    const resolved = box ?? this.#o.resolve(spec);
    const program = await this.#program(spec, resolved, extra);
    const target = await this.#target(resolved);
    // A missing plugin is a stalled failure before any engine starts.
    await this.#o.engine.preflight(target);
    const signal = this.#engineSignal();
    try {
      if (resumed) await this.#o.engine.recover(program, target, { logger: this.#log, ...(signal ? { signal: signal.signal } : {}) });
      this.#engineRuns += 1;
      return await this.#o.engine.run(operation, program, target, { logger: this.#log, ...(signal ? { signal: signal.signal } : {}) });
    } finally {
      signal?.dispose();
    }
  }

  /** Aborts `engineGraceMs` after the stop signal: the engine gets that long to finish on its own. */
  #engineSignal(): { signal: AbortSignal; dispose: () => void } | undefined {
    const stop = this.#o.stopSignal;
    if (!stop) return undefined;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const onStop = () => {
      this.#log.warn('stop requested; letting the engine operation finish', { graceMs: this.#o.engineGraceMs ?? 120_000 });
      timer = setTimeout(() => controller.abort(), this.#o.engineGraceMs ?? 120_000);
    };
    if (stop.aborted) onStop();
    else stop.addEventListener('abort', onStop, { once: true });
    return {
      signal: controller.signal,
      dispose: () => {
        stop.removeEventListener('abort', onStop);
        if (timer) clearTimeout(timer);
      },
    };
  }

  // ---- report and audit -----------------------------------------------------------------------

  #auditBase(entry: JournalEntry, verified: VerifiedEnvelope | null): Omit<AuditRecord, 'outcome'> {
    return {
      actor: verified ? verified.signers.join(',') : 'unverified',
      action: auditAction(entry),
      box: this.box,
      tier: this.tier,
      envelopeDigest: entry.id,
    };
  }

  /**
   * Ends an envelope's steps: the report and audit record go into the outbox first, then the
   * journal entry turns final, then the outbox is delivered (report and audit steps).
   */
  async #finish(
    entry: JournalEntry,
    outcome: 'succeeded' | 'failed' | 'rejected',
    error: unknown,
    verified: VerifiedEnvelope | null,
    durationMs?: number,
    counts?: ChangeCounts,
    appliedSpec?: string,
    /** A box-side failure: the journal entry goes to `waiting` with this schedule instead of `failed`. */
    retry?: RetrySchedule,
  ): Promise<ItemResult> {
    // An engine message may quote a secret (a provider echoing its input): reports and the audit log get it masked.
    const reason = error === undefined ? undefined : maskedReason(toReason(error), this.#secrets);
    if (reason) this.#log[outcome === 'rejected' ? 'warn' : 'error'](`envelope ${outcome}`, { digest: entry.id, serial: entry.serial, action: entry.action, ...reason });
    else this.#log.info('envelope applied', { digest: entry.id, serial: entry.serial, action: entry.action, ...counts, durationMs });
    const report: OutboxReport = {
      box: this.box,
      jobId: entry.id,
      tier: this.tier,
      outcome,
      ...(entry.serial > 0 ? { serial: entry.serial } : {}),
      ...(counts ? { engine: engineSummary(counts) } : {}),
      ...(durationMs !== undefined ? { durationMs } : {}),
      ...(reason ? { reason } : {}),
      ...engineErrors(error, this.#secrets),
    };
    const audit: AuditRecord = { ...this.#auditBase(entry, verified), outcome, ...(reason ? { reason } : {}) };
    await this.#o.state.update((data) => {
      data.outbox = data.outbox.filter((pending) => pending.report.jobId !== entry.id || pending.report.outcome !== outcome);
      data.outbox.push({ report, audit, audited: false });
    });
    if (retry) this.#log.warn('box-side failure: the envelope waits and is retried', { digest: entry.id, attempt: retry.attempt, nextAt: retry.nextAt });
    await this.#o.journal.transition(entry.id, retry ? 'waiting' : outcome, reason, { ...(appliedSpec ? { specDigest: appliedSpec } : {}), ...(retry ? { retry } : {}) });
    await this.#deliver(entry);
    return { digest: entry.id, serial: entry.serial, action: entry.action, outcome, ...(reason ? { reason } : {}), ...(counts ? { counts } : {}), ...(durationMs !== undefined ? { durationMs } : {}) };
  }

  /**
   * report and audit: appends each outbox record's audit entry (once), posts its report, and
   * uploads new audit entries. A hub outage leaves them in the outbox for the next cycle; it
   * never blocks or loses the local audit log.
   */
  async #deliver(entry?: JournalEntry): Promise<void> {
    const outbox = this.#o.state.data.outbox;
    if (outbox.length === 0 && (this.#o.audit.head?.seq ?? 0) === this.#o.state.data.auditUploadedSeq && !this.#auditAnchorMoved()) return;
    await this.#step('audit', entry);
    for (const pending of outbox.filter((record) => !record.audited)) {
      await this.#appendAuditOnce(pending.audit);
      await this.#o.state.update(() => {
        pending.audited = true;
      });
    }
    await this.#step('report', entry);
    try {
      for (const pending of [...this.#o.state.data.outbox]) {
        const { box, ...report } = pending.report;
        await this.#o.hub.postReport(box, report as ReportRequest);
        await this.#o.state.update((data) => {
          data.outbox = data.outbox.filter((record) => record !== pending);
        });
      }
      await this.#uploadAudit();
    } catch (error) {
      if (errorKind(error) !== 'waiting') throw error;
      this.#log.warn('hub unreachable; reports and audit entries stay queued', { ...toReason(error) });
    }
  }

  /** Whether the local head no longer is the hub's head it was at the last upload. */
  #auditAnchorMoved(): boolean {
    const anchor = this.#o.state.data.auditHubHead;
    const local = this.#o.audit.head;
    return anchor !== undefined && anchor !== null && (anchor.seq !== local?.seq || anchor.hash !== local.hash);
  }

  async #appendAuditOnce(record: AuditRecord): Promise<void> {
    // Agent-initiated records (drift checks) carry no envelope to recognise them by.
    if (record.envelopeDigest === null) {
      await this.#o.audit.append(record);
      return;
    }
    const { entries } = await verifyAuditLog(this.#o.audit.file);
    const present = entries.some((entry) => entry.envelopeDigest === record.envelopeDigest && entry.outcome === record.outcome && entry.action === record.action);
    if (present) return;
    const pending = this.#o.state.data.coalesced;
    if (repeatsRefusal(entries.at(-1), pending, record)) {
      await this.#o.state.update((data) => {
        data.coalesced = countRefusal(pending, record, this.#now().toISOString());
      });
      return;
    }
    if (pending) {
      await this.#o.audit.append(coalescedRecord(pending));
      await this.#o.state.update((data) => {
        data.coalesced = null;
      });
    }
    await this.#o.audit.append(record);
  }

  async #uploadAudit(): Promise<void> {
    const local = this.#o.audit.head;
    const uploaded = this.#o.state.data.auditUploadedSeq;
    const anchor = this.#o.state.data.auditHubHead ?? null;
    if ((local?.seq ?? 0) === uploaded && (!anchor || (anchor.seq === local?.seq && anchor.hash === local.hash))) return;
    const { entries } = await verifyAuditLog(this.#o.audit.file);
    // On every upload, before sending anything: the local log must still hold the entry the hub
    // ended with. A log cut and re-grown on the box is a valid chain that only this catches.
    const diverged = anchor ? divergenceFromHead(entries, anchor) : undefined;
    if (diverged) throw diverged;
    const fresh = entries.filter((entry) => entry.seq > uploaded);
    if (fresh.length === 0) return;
    try {
      // In slices the hub accepts (it refuses more than 1000 entries in one upload).
      for (let start = 0; start < fresh.length; start += AUDIT_UPLOAD_SLICE) {
        const answer = await this.#o.hub.postAudit(this.box, fresh.slice(start, start + AUDIT_UPLOAD_SLICE));
        await this.#o.state.update((data) => {
          data.auditUploadedSeq = Math.max(data.auditUploadedSeq, answer.head?.seq ?? 0);
          data.auditHubHead = answer.head;
        });
      }
    } catch (error) {
      // The hub holds fewer entries than we thought (its data was restored): send all next time.
      if (error instanceof HubRequestError && error.code === 'EAUDIT_GAP') {
        await this.#o.state.update((data) => {
          data.auditUploadedSeq = 0;
          data.auditHubHead = null;
        });
        return;
      }
      throw error;
    }
  }

  // ---- drift ----------------------------------------------------------------------------------

  /** refresh + preview of the last applied spec; reports drift counts, never corrects. */
  async checkDrift(): Promise<DriftResult> {
    await this.#step('drift');
    const applied = this.#o.journal.lastApplied(this.box, this.tier);
    if (!applied?.specDigest) return { status: 'no-spec', drifted: false };
    const spec = await this.#lastAppliedSpec();
    const started = performance.now();
    await this.#engineOp('refresh', spec, false);
    const counts = (await this.#engineOp('preview', spec, false)).counts;
    const drifted = counts.create + counts.update + counts.delete + counts.replace > 0;
    const at = this.#now().toISOString();
    this.#log[drifted ? 'warn' : 'info']('drift check', { ...counts, drifted });
    await this.#o.state.update((data) => {
      data.lastDriftAt[this.#key] = at;
      data.outbox.push({
        report: { box: this.box, jobId: `drift-${this.stackName}-${at}`, tier: this.tier, outcome: 'succeeded', engine: engineSummary(counts), durationMs: Math.round(performance.now() - started) },
        audit: { actor: 'agent', action: 'drift.check', box: this.box, tier: this.tier, envelopeDigest: null, outcome: 'succeeded', ...(drifted ? { reason: { code: 'EDRIFT', message: `${counts.create + counts.update + counts.delete + counts.replace} resource(s) drifted from the applied spec` } } : {}) },
        audited: false,
      });
    });
    await this.#deliver();
    return { status: 'checked', counts, drifted };
  }

  /** When the last drift check ran, if ever. */
  lastDriftAt(): Date | undefined {
    const at = this.#o.state.data.lastDriftAt[this.#key];
    return at ? new Date(at) : undefined;
  }
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

/** How many of the engine's error lines a report carries as `errors`. */
const MAX_REPORTED_ENGINE_ERRORS = 5;

function maskedReason(reason: Reason, secrets: SecretRegistry): Reason {
  return { ...reason, message: secrets.redact(reason.message), ...(reason.details ? { details: reason.details.map((line) => secrets.redact(line)) } : {}) };
}
