/**
 * Runs `up`, `preview`, `refresh` and `destroy` of an inline program on the real engine
 * (runner/engine/workspace.ts), streams its events to a logger, sums up what changed, and turns
 * every Automation API failure into an {@link EngineError} subclass (runner/engine/errors.ts).
 *
 * Also the crash-recovery primitive {@link EngineRunner.recover}: a stale file-backend lock left
 * by a killed engine is removed (`stack.cancel()`, which deletes the lock on a file backend) and
 * pending operations are cleared with `refresh --clear-pending-creates`. Call it only while
 * holding the agent's own stack lock (runner/state/lock.ts): that lock is what makes "no other
 * engine of ours is running" true.
 */
import { hostname } from 'node:os';
import { CommandError, ConcurrentUpdateError, StackNotFoundError, type EngineEvent, type OpMap, type PulumiFn, type Stack } from '@pulumi/pulumi/automation/index.js';
import {
  EngineBackendError,
  EngineBusyError,
  EngineCancelledError,
  EngineError,
  EnginePolicyError,
  type EnginePolicyViolation,
  EngineMissingError,
  EnginePluginMissingError,
  EngineProgramError,
  EngineRunError,
} from './errors.js';
import { EngineNotInstalledError, locateEngine, PluginNotInstalledError, requirePlugins, type InstalledPlugin, type LocatedEngine } from './locate.js';
import { engineLocks } from './locks.js';
import { createWorkspace } from './workspace.js';
import { oneLine, renderDiagnostics, stepFromMetadata, type EngineDiagnostic, type EngineStep } from './diff.js';

export type EngineOperation = 'up' | 'preview' | 'refresh' | 'destroy';

/** What an operation changed (or, for a preview, would change), as the engine counts resources. */
export interface ChangeCounts {
  readonly create: number;
  readonly update: number;
  readonly delete: number;
  readonly replace: number;
  readonly same: number;
}

export type { EngineDiagnostic, EngineStep, PropertyChange } from './diff.js';
export { engineLocks, type EngineLock } from './locks.js';

export interface EngineOutcome {
  readonly operation: EngineOperation;
  readonly counts: ChangeCounts;
  readonly durationMs: number;
  /** Every step, in the engine's order: what a preview would do, or what an up did. */
  readonly steps: readonly EngineStep[];
}

/** The logger the engine runner writes to; `runner/agent/logger.ts` provides one. */
export interface EngineLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
}

/** Which stack, where its state lives, and how its secrets are encrypted. */
export interface StackTarget {
  readonly projectName: string;
  readonly stackName: string;
  /** The file backend's folder (`file://<stateDir>`). */
  readonly stateDir: string;
  /** A backend other than the file one under `stateDir` (createWorkspace's `backendUrl`). @default - file://<stateDir> */
  readonly backendUrl?: string;
  /** The passphrase of the stack's secrets provider: only ever in the engine's environment. */
  readonly passphrase: string;
  /** Plugins checked before the engine starts. @default - none */
  readonly requiredPlugins?: readonly InstalledPlugin[];
  /** Extra environment for the engine and its providers. @default - none */
  readonly envVars?: Readonly<Record<string, string>>;
  /**
   * Policy pack folders every preview and up runs with (`policyPacks`; the Node language host
   * runs them). A mandatory violation fails the operation with {@link EnginePolicyError}.
   * @default - none
   */
  readonly policyPacks?: readonly string[];
}

export interface RunOptions {
  /** Aborting sends the engine SIGINT: it finishes the resource operations under way and stops. */
  readonly signal?: AbortSignal;
  /** Where engine events go. @default - nowhere */
  readonly logger?: EngineLogger;
  /** Every engine event as it comes, for progress on a terminal (cli/progress.ts). */
  readonly onEvent?: (event: EngineEvent) => void;
}

export interface RecoveryOutcome {
  /** Lock files of dead engine processes that were removed. */
  readonly staleLocksRemoved: number;
  /** Whether a refresh with --clear-pending-creates ran (there was state to refresh). */
  readonly refreshed: boolean;
}

const ZERO: ChangeCounts = { create: 0, update: 0, delete: 0, replace: 0, same: 0 };

/** Sums an engine OpMap into {@link ChangeCounts}; replacement steps count as one replace. */
export function countChanges(changes: OpMap | Partial<Record<string, number>> | undefined): ChangeCounts {
  const map = (changes ?? {}) as Record<string, number | undefined>;
  const n = (key: string) => map[key] ?? 0;
  return { create: n('create'), update: n('update'), delete: n('delete'), replace: n('replace'), same: n('same') };
}

const silent: EngineLogger = { info: () => {}, warn: () => {}, debug: () => {} };

/** What the agent needs of an engine runner; {@link LazyEngineRunner} defers loading this module. */
export type Engines = Pick<EngineRunner, 'engine' | 'preflight' | 'run' | 'recover'>;

/** The engine runner the agent and `felhom preview` share: one located engine, many operations. */
export class EngineRunner {
  #engine: LocatedEngine | undefined;
  readonly #engineHome: string | undefined;

  constructor(options: { engine?: LocatedEngine; engineHome?: string } = {}) {
    this.#engine = options.engine;
    this.#engineHome = options.engineHome;
  }

  /** The located engine (found once). Throws {@link EngineMissingError}. */
  async engine(): Promise<LocatedEngine> {
    if (!this.#engine) {
      try {
        this.#engine = await locateEngine(this.#engineHome ? { engineHome: this.#engineHome } : {});
      } catch (error) {
        throw mapEngineError(error, undefined, undefined);
      }
    }
    return this.#engine;
  }

  /** Checks, before any engine starts, that the engine and `target`'s plugins are installed. */
  async preflight(target: Pick<StackTarget, 'requiredPlugins'>): Promise<void> {
    const engine = await this.engine();
    try {
      if (target.requiredPlugins) requirePlugins(engine, target.requiredPlugins);
    } catch (error) {
      throw mapEngineError(error, undefined, undefined);
    }
  }

  /** Runs one operation of `program` on `target`. */
  async run(operation: EngineOperation, program: PulumiFn, target: StackTarget, options: RunOptions = {}): Promise<EngineOutcome> {
    const logger = options.logger ?? silent;
    const started = performance.now();
    // The program's own exception, caught by identity: no engine message text is parsed to find it.
    let programError: unknown;
    const guarded: PulumiFn = async () => {
      try {
        return await program();
      } catch (error) {
        programError ??= error;
        throw error;
      }
    };
    let summary: OpMap | undefined;
    const steps: EngineStep[] = [];
    const diagnostics: EngineDiagnostic[] = [];
    const violations: EnginePolicyViolation[] = [];
    const onEvent = (event: EngineEvent) => {
      const policy = event.policyEvent;
      if (policy && policy.enforcementLevel === 'mandatory') {
        violations.push({ rule: policy.policyName, message: oneLine(stripAnsi(policy.message)), ...(policy.resourceUrn ? { urn: policy.resourceUrn } : {}) });
      }
      if (event.summaryEvent) summary = event.summaryEvent.resourceChanges;
      if (event.resourcePreEvent) steps.push(stepFromMetadata(event.resourcePreEvent.metadata));
      const diagnostic = event.diagnosticEvent;
      if (diagnostic && (diagnostic.severity === 'error' || diagnostic.severity === 'warning')) {
        diagnostics.push({ severity: diagnostic.severity, ...(diagnostic.urn ? { urn: diagnostic.urn } : {}), message: oneLine(stripAnsi(diagnostic.message)) });
      }
      logEvent(logger, operation, event);
      options.onEvent?.(event);
    };
    try {
      const stack = await this.#stack(guarded, target);
      logger.info('engine operation started', { operation, stack: target.stackName });
      const common = { onEvent, onOutput: (text: string) => logger.debug('engine output', { text: text.trimEnd() }), ...(options.signal ? { signal: options.signal } : {}) };
      const policies = target.policyPacks && target.policyPacks.length > 0 ? { policyPacks: [...target.policyPacks] } : {};
      switch (operation) {
        case 'up':
          await stack.up({ ...common, ...policies, suppressOutputs: true });
          break;
        case 'preview': {
          const result = await stack.preview({ ...common, ...policies, suppressOutputs: true });
          summary ??= result.changeSummary;
          break;
        }
        case 'refresh':
          await stack.refresh(common);
          break;
        case 'destroy':
          await stack.destroy(common);
          break;
      }
    } catch (error) {
      const mapped = mapEngineError(error, programError, options.signal);
      // The policy pack's refusal is what failed the run, whatever the engine's closing line says.
      if (violations.length > 0 && mapped instanceof EngineRunError) throw new EnginePolicyError(violations, { cause: error });
      throw withDiagnostics(mapped, diagnostics, steps);
    }
    const outcome: EngineOutcome = { operation, counts: summary ? countChanges(summary) : ZERO, durationMs: Math.round(performance.now() - started), steps };
    logger.info('engine operation finished', { operation, stack: target.stackName, ...outcome.counts, durationMs: outcome.durationMs });
    return outcome;
  }

  /**
   * Clears what a killed engine leaves behind: its lock in the file or PostgreSQL backend (runner/engine/locks.ts; only when the process that
   * wrote it is dead on this host: a live one gets {@link EngineBusyError}) and pending
   * operations (`refresh --clear-pending-creates`). Hold the agent's stack lock while calling it.
   */
  async recover(program: PulumiFn, target: StackTarget, options: RunOptions = {}): Promise<RecoveryOutcome> {
    const logger = options.logger ?? silent;
    const locks = await engineLocks(target).catch((error: unknown) => {
      // The driver's message names the server and the reason, never the URL's password.
      throw new EngineBackendError(`the state backend cannot be read: ${firstLine(error instanceof Error ? error.message : String(error))}`, { cause: error });
    });
    const live = locks.filter((lock) => !lock.stale);
    if (live.length > 0) {
      const holders = live.map((lock) => `pid ${lock.pid ?? '?'}${lock.hostname && lock.hostname !== hostname() ? ` on ${lock.hostname}` : ''}`);
      throw new EngineBusyError(`stack ${target.stackName} is locked by a running engine (${holders.join(', ')}); retry later`);
    }
    let stack: Stack;
    try {
      stack = await this.#stack(program, target);
    } catch (error) {
      throw mapEngineError(error, undefined, undefined);
    }
    for (const lock of locks) {
      logger.warn('removing a stale engine lock', { file: lock.file, pid: lock.pid });
      try {
        // On a file or PostgreSQL backend `pulumi cancel` deletes the stack's locks (pulumi/pulumi#9100).
        await stack.cancel();
      } catch {
        // an older CLI refuses: the lock is ours to remove, its writer is dead
      }
      await lock.remove();
    }
    const deployment = await stack.exportStack().catch(() => undefined);
    // Only the shape is read (never logged: exportStack decrypts secrets).
    const hasState = (deployment?.deployment?.resources?.length ?? 0) > 0;
    if (hasState) {
      try {
        await stack.refresh({ clearPendingCreates: true, ...(options.signal ? { signal: options.signal } : {}) });
      } catch (error) {
        throw mapEngineError(error, undefined, options.signal);
      }
    }
    logger.info('engine state recovered', { stack: target.stackName, staleLocksRemoved: locks.length, refreshed: hasState });
    return { staleLocksRemoved: locks.length, refreshed: hasState };
  }

  async #stack(program: PulumiFn, target: StackTarget): Promise<Stack> {
    const engine = await this.engine();
    const { stack } = await createWorkspace({
      projectName: target.projectName,
      stackName: target.stackName,
      program,
      stateDir: target.stateDir,
      ...(target.backendUrl ? { backendUrl: target.backendUrl } : {}),
      passphrase: target.passphrase,
      engine,
      ...(target.requiredPlugins ? { requiredPlugins: target.requiredPlugins } : {}),
      ...(target.envVars ? { envVars: target.envVars } : {}),
    });
    return stack;
  }
}

/** Turns whatever an engine operation threw into an {@link EngineError}, by class. */
export function mapEngineError(error: unknown, programError: unknown, signal: AbortSignal | undefined): EngineError {
  if (error instanceof EngineError) return error;
  if (error instanceof PluginNotInstalledError) {
    return new EnginePluginMissingError(error.message, error.missing.map((plugin) => `${plugin.name} ${plugin.version}`), { cause: error });
  }
  if (error instanceof EngineNotInstalledError) return new EngineMissingError(error.message, { cause: error });
  if (signal?.aborted) return new EngineCancelledError('the engine operation was cancelled; the engine stopped after the resource operations under way', { cause: error });
  if (programError !== undefined) {
    const message = programError instanceof Error ? programError.message : String(programError);
    return new EngineProgramError(`the program failed: ${firstLine(message)}`, { cause: programError });
  }
  if (error instanceof ConcurrentUpdateError) return new EngineBusyError('another engine update holds the stack; retry later', { cause: error });
  if (error instanceof StackNotFoundError) return new EngineRunError('the stack does not exist in the backend', { cause: error, code: 'ESTACK_NOT_FOUND' });
  if (error instanceof CommandError) {
    const line = engineFailureLine(error);
    // The state backend down (a PostgreSQL server restarting, say) is the environment's, for later.
    if (/unable to open (?:state database|bucket)/.test(line)) return new EngineBackendError(`the state backend cannot be opened: ${line}`, { cause: error });
    return new EngineRunError(`the engine failed: ${line}`, { cause: error });
  }
  return new EngineRunError(`the engine failed: ${firstLine(error instanceof Error ? error.message : String(error))}`, { cause: error });
}

/**
 * Attaches the engine's per-resource diagnostics to a run failure: its `details` (printed under the
 * message by `felhom`, carried in the agent's reports) and, when the engine's own line says only
 * `preview failed`, a message naming the first resource that failed and why.
 */
export function withDiagnostics(error: EngineError, diagnostics: readonly EngineDiagnostic[], steps: readonly EngineStep[] = []): EngineError {
  const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 'error');
  if (!(error instanceof EngineRunError) || errors.length === 0) return error;
  const types = new Map(steps.map((step) => [step.urn, step.type]));
  const lines = renderDiagnostics(errors, (urn) => types.get(urn));
  const first = lines[0]!.replace(/^error: /, '');
  const message = /^the engine failed: (error: )?(\w+ failed)?$/.test(error.message) || errors.some((diagnostic) => diagnostic.urn) ? `the engine failed: ${first}` : error.message;
  return new EngineRunError(message, { cause: error.cause, code: error.code, diagnostics: errors, details: lines });
}

/** Terminal colour codes the engine leaves in diagnostics even with colour off. */
function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '').replace(/<\{%[a-z]+%\}>/gi, '');
}

function firstLine(text: string): string {
  const line = text.split('\n').map((part) => part.trim()).find((part) => part.length > 0) ?? 'unknown error';
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/** The engine's own `error:` line, for people; classification never depends on it. */
function engineFailureLine(error: CommandError): string {
  const text = error.message;
  const errorLine = text.split('\n').map((line) => line.trim()).find((line) => line.startsWith('error:'));
  return firstLine(errorLine ?? text);
}

function logEvent(logger: EngineLogger, operation: EngineOperation, event: EngineEvent): void {
  if (event.resOutputsEvent) {
    const { op, urn, type } = event.resOutputsEvent.metadata;
    if (op !== 'same') logger.info('resource changed', { operation, op, type, urn });
  } else if (event.resOpFailedEvent) {
    const { op, urn, type } = event.resOpFailedEvent.metadata;
    logger.warn('resource operation failed', { operation, op, type, urn });
  } else if (event.diagnosticEvent && (event.diagnosticEvent.severity === 'error' || event.diagnosticEvent.severity === 'warning')) {
    // The engine masks secret values in diagnostics; the agent's logger also redacts known secrets.
    logger.warn('engine diagnostic', { operation, severity: event.diagnosticEvent.severity, urn: event.diagnosticEvent.urn, message: firstLine(event.diagnosticEvent.message) });
  } else if (event.cancelEvent) {
    logger.warn('engine cancelled', { operation });
  }
}
