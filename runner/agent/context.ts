/**
 * What every step and job handler of the agent is handed: the agent's options, in named groups,
 * and the services they share (the log, the envelope archive, the secrets, the injected clock,
 * the before-step hook). docs/agent.md "Steps" and "Job kinds".
 */
import type { BodyValidator, VerifiedEnvelope } from '../envelope/index.js';
import type { ChangeCounts, Engines } from '../engine/run.js';
import type { InstalledPlugin } from '../engine/locate.js';
import type { HubClient } from '../hub/client.js';
import type { AuditLog, Reason } from '../state/audit.js';
import type { JobHeader, Journal, JournalEntry, RetrySchedule } from '../state/journal.js';
import type { Lock } from '../state/lock.js';
import type { DurableStore } from '../state/store.js';
import type { ResolvedBox } from '../../stacks/spec/resolve.js';
import type { BoxSpec, Tier } from '../../stacks/spec/types.js';
import type { HostOperations } from './deploy.js';
import type { WorkItem } from './envelope-item.js';
import { StoppingError } from './errors.js';
import { silentLogger, SecretRegistry, type Logger } from './logger.js';
import type { ProgramFactory } from './program.js';
import { EnvelopeArchive, type AgentStateData, type StateLayout } from './state-dir.js';
import type { StorageMonitor } from './storage-health.js';

export type StepName = 'recover' | 'fetch' | 'journal' | 'verify' | 'apply' | 'report' | 'audit' | 'drift';

/** Called before each step starts; tests pause or announce here (kill -9 at a known step). */
export type BeforeStepHook = (step: StepName, item?: { digest: string; serial: number; action: string }) => void | Promise<void>;

/** Where the agent keeps what it knows: each has one writer, this agent (the lock says so). */
export interface AgentStores {
  readonly layout: StateLayout;
  /** The trust store file; rotate-keys jobs rewrite it. */
  readonly trustPath: string;
  readonly journal: Journal;
  readonly audit: AuditLog;
  /** agent.json: ETags, the outbox, drift times. */
  readonly agent: DurableStore<AgentStateData>;
  /**
   * The stack lock (runner/state/lock.ts), held for the agent's whole life: the journal, audit
   * log and agent state have one writer, and one engine runs per stack. Released by close().
   */
  readonly lock?: Lock;
}

/** How the agent runs the engine on a spec. */
export interface AgentEngineOptions {
  readonly engines: Engines;
  /** The stack passphrase (keys/stack-passphrase). */
  readonly passphrase: string;
  /** Builds the tier program for a resolved box. */
  readonly programFor: ProgramFactory;
  /** Plugins the program needs, checked before the engine starts. @default - none */
  readonly requiredPlugins?: (tier: Tier) => Promise<readonly InstalledPlugin[]>;
  /**
   * The policy pack folder (policies/pack.ts, `policyPackDirectory()`) every preview and up runs
   * with; a spec deploy previews with it before its up, so a mandatory violation stops the
   * deploy before any change (docs/policies.md). `openAgent` sets it for the real programs.
   * @default - no policy pack
   */
  readonly policyPack?: string;
  /**
   * Where the stacks' Pulumi state lives instead of the file backend under `<state>/engine`: a
   * `postgres://` or `s3://` URL (the edge tier's agent off the hub's disk; docs/engine.md "State
   * backends"). A secret: redacted from logs. @default - the file backend
   */
  readonly stateBackend?: string;
  /** Pulumi project name of the agent's stacks. @default felhom */
  readonly projectName?: string;
  /** How long a running engine operation may go on after the stop signal. @default 120 000 ms */
  readonly graceMs?: number;
}

/** How a verified spec body is judged and read. */
export interface AgentSpecRules {
  /** Validates and resolves a verified spec body (catalog, golden sizing). */
  readonly resolve: (spec: BoxSpec) => ResolvedBox;
  /** The box spec validator as an envelope body validator (rule 13). */
  readonly validateBody: BodyValidator;
}

/** What the host tier's agent can do to Proxmox beyond the engine. */
export interface AgentHostOptions {
  /** Proxmox operations for snapshot-before-deploy, rollback, restore. @default - none (those jobs are refused) */
  readonly operations?: HostOperations;
  /** The host tier's storage check after each cycle (runner/agent/storage-health.ts). @default - none */
  readonly storageMonitor?: StorageMonitor;
}

/** The process the agent runs in: log, secrets, environment, clock, hooks, stop. */
export interface AgentRuntime {
  readonly logger?: Logger;
  readonly secrets?: SecretRegistry;
  readonly env?: NodeJS.ProcessEnv;
  /** The box clock every envelope is verified at and every record is dated by. @default - the system clock */
  readonly clock?: () => Date;
  readonly beforeStep?: BeforeStepHook;
  /** Stops the agent: no new step starts; a running engine operation gets `engine.graceMs` to finish. */
  readonly stopSignal?: AbortSignal;
}

export interface AgentOptions {
  readonly box: string;
  readonly tier: Tier;
  readonly stores: AgentStores;
  readonly hub: HubClient;
  readonly engine: AgentEngineOptions;
  readonly spec: AgentSpecRules;
  /** @default - no host operations, no storage monitor */
  readonly host?: AgentHostOptions;
  /** @default - silent log, fresh secret registry, process.env, the system clock */
  readonly runtime?: AgentRuntime;
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

/** What an envelope's apply (or refusal) comes to, before it is recorded. */
export interface EnvelopeOutcome {
  readonly outcome: 'succeeded' | 'failed' | 'rejected';
  readonly error?: unknown;
  readonly durationMs?: number;
  readonly counts?: ChangeCounts;
  /** A received spec an apply job applied: it becomes the last applied spec. */
  readonly appliedSpec?: string;
  /** A box-side failure: the journal entry goes to `waiting` with this schedule instead of `failed`. */
  readonly retry?: RetrySchedule;
}

/**
 * One envelope on its way through the steps (runner/agent/steps): each step reads what the
 * steps before it left here and adds its own part.
 */
export interface EnvelopeRun {
  /** The envelope as fetched or taken from the archive; absent for an entry whose envelope is lost. */
  readonly item?: WorkItem;
  /** Set by the journal step. */
  entry?: JournalEntry;
  /** Set by the verify step: what verification believed, or null for a refused envelope. */
  verified?: VerifiedEnvelope | null;
  /** Set by the verify step (a refusal) or the apply step. */
  outcome?: EnvelopeOutcome;
  /** Set by the record step (or the journal step, for an envelope that needs nothing more). */
  result?: ItemResult;
  /** Set by the apply step for a spec: the report step then keeps the spec's ETag. */
  rememberEtag?: string;
}

/** One cycle on its way through the cycle steps (recover → fetch → take). */
export interface CycleRun {
  /** > 0: the fetch long-polls the hub this long for changes. */
  readonly waitSeconds: number;
  /** Envelopes waiting on a box-side fix are retried before their backoff is over (a person ran `agent once`). */
  readonly retryNow: boolean;
  /** Every envelope's result, in the order they finished. */
  readonly items: ItemResult[];
  /** Set by the fetch step: the envelopes to take this cycle, in serial order. */
  fetched?: WorkItem[];
}

/** A failure inside a step, remembered with the step it happened in. */
export class StepFailure extends Error {
  constructor(readonly step: StepName, readonly error: unknown) {
    super(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/** The options as given, but `host` and `runtime` with their defaults; the class below adds the shared services. */
export interface AgentContext extends Readonly<Omit<AgentOptions, 'host' | 'runtime'>> {}

/** The agent's options with their defaults, and the services every step shares. */
// Declaration merging: the interface above names the option fields the constructor assigns.
export class AgentContext {
  readonly host: AgentHostOptions;
  readonly runtime: AgentRuntime;
  readonly log: Logger;
  readonly secrets: SecretRegistry;
  readonly archive: EnvelopeArchive;
  /** Engine operations started, and envelopes the hub served in the current cycle's fetch. */
  readonly counters = { engineRuns: 0, served: 0 };

  constructor(options: AgentOptions) {
    Object.assign(this, options);
    this.host = options.host ?? {};
    this.runtime = options.runtime ?? {};
    this.log = this.runtime.logger ?? silentLogger;
    this.secrets = this.runtime.secrets ?? new SecretRegistry();
    this.secrets.add(options.engine.passphrase);
    this.archive = new EnvelopeArchive(options.stores.layout.envelopes);
  }

  /** `box/tier`: the key of this stack's ETags and drift times in agent.json. */
  get key(): string {
    return `${this.box}/${this.tier}`;
  }

  get stackName(): string {
    return `${this.box}.${this.tier}`;
  }

  /** The injected clock: every verification and every dated record reads this. */
  now(): Date {
    return this.runtime.clock?.() ?? new Date();
  }

  get stopping(): boolean {
    return this.runtime.stopSignal?.aborted === true;
  }

  /** Before a step starts: refused once the agent is stopping, then announced to the hook. */
  async enter(step: StepName, subject?: Pick<JobHeader, 'id' | 'serial' | 'action'>): Promise<void> {
    if (this.stopping) throw new StepFailure(step, new StoppingError(`the agent is stopping; the ${step} step was not started`));
    if (this.runtime.beforeStep) await this.runtime.beforeStep(step, subject ? { digest: subject.id, serial: subject.serial, action: subject.action } : undefined);
  }

  /** Keeps the spec endpoint's ETag once the spec it served needs nothing more. */
  async rememberSpecEtag(etag: string | undefined): Promise<void> {
    if (!etag || this.stores.agent.data.specEtags[this.key] === etag) return;
    await this.stores.agent.update((data) => {
      data.specEtags[this.key] = etag;
    });
  }
}
