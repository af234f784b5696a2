/**
 * Builds an {@link Agent} from a state directory: opens the journal, audit log and agent state,
 * reads (or generates) the stack passphrase and the hub API key, and plugs in the box spec
 * validator and resolver. The CLI and the tests' child agent both start here; the program
 * factory is injectable (docs/agent.md "Programs").
 */
import { HubClient } from '../hub/client.js';
import { AuditLog } from '../state/audit.js';
import { Journal } from '../state/journal.js';
import type { Tier } from '../../stacks/spec/types.js';
import { Agent, type AgentEngineOptions, type AgentHostOptions, type AgentRuntime, type AgentSpecRules } from './agent.js';
import { AgentSetupError } from './errors.js';
import { SecretRegistry } from './logger.js';
import type { ProgramFactory } from './program.js';
import { loadOrCreateStackPassphrase, openAgentState, prepareStateDir, readSecretFile, type StateLayout } from './state-dir.js';
import { acquireLock, stackLockFile, type Lock } from '../state/lock.js';
import { stackName } from '../../stacks/spec/types.js';

/** What `openAgent` needs: where the state is, and the collaborators it passes to the Agent as they are. */
export interface OpenAgentOptions {
  readonly box: string;
  readonly tier: Tier;
  readonly engine: AgentEngineOptions['engines'];
  readonly requiredPlugins?: AgentEngineOptions['requiredPlugins'];
  /** @default 120 000 ms */
  readonly engineGraceMs?: number;
  /** Where the stacks' Pulumi state lives (a `postgres://` or `s3://` URL). @default - the file backend in `<state>/engine` */
  readonly stateBackend?: string;
  readonly hostOperations?: AgentHostOptions['operations'];
  readonly storageMonitor?: AgentHostOptions['storageMonitor'];
  readonly logger?: AgentRuntime['logger'];
  readonly secrets?: AgentRuntime['secrets'];
  readonly env?: AgentRuntime['env'];
  readonly clock?: AgentRuntime['clock'];
  readonly beforeStep?: AgentRuntime['beforeStep'];
  readonly stopSignal?: AgentRuntime['stopSignal'];
  readonly stateDir: string;
  readonly trustPath: string;
  readonly hubUrl: string;
  /** @default - `<state>/keys/hub-api-key` */
  readonly apiKeyFile?: string;
  /** @default - the real tier programs, and then their plugins as `requiredPlugins` */
  readonly programFor?: ProgramFactory;
  /** Hub request timeout. @default 30 000 ms */
  readonly hubTimeoutMs?: number;
  /**
   * The policy pack folder every preview and up runs with, or `false` for none.
   * @default - with the real tier programs, the compiled Felhom pack; with `programFor`, none
   */
  readonly policyPack?: string | false;
}

export async function openAgent(options: OpenAgentOptions): Promise<Agent> {
  const layout = await prepareStateDir(options.stateDir);
  // One agent per stack and state dir: the lock comes before any state is read, so the state
  // this agent loads is the state no one else writes (a second agent gets LockHeldError: waiting).
  const lock = await acquireLock(stackLockFile(layout.root, stackName(options.box, options.tier)));
  try {
    return await openLocked(options, layout, lock);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function openLocked(options: OpenAgentOptions, layout: StateLayout, lock: Lock): Promise<Agent> {
  const secrets = options.secrets ?? new SecretRegistry();
  const apiKeyFile = options.apiKeyFile ?? layout.hubApiKey;
  const apiKey = await readSecretFile(apiKeyFile);
  if (!apiKey) throw new AgentSetupError(`no hub API key in ${apiKeyFile}: write the key \`felhom hub enroll\` printed there (mode 0600)`);
  secrets.add(apiKey);
  if (options.stateBackend) registerBackendSecrets(options.stateBackend, secrets);
  const passphrase = await loadOrCreateStackPassphrase(layout);
  const [journal, audit, state] = await Promise.all([
    Journal.open(layout.root, options.clock ? { clock: options.clock } : {}),
    // A torn last line is a crash during an append: the entry was not recorded (its outbox record
    // still says so and appends it again), so quarantine the bytes and go on.
    AuditLog.open(AuditLog.fileIn(layout.root), { onTornTail: 'quarantine', ...(options.clock ? { clock: options.clock } : {}) }),
    openAgentState(layout),
  ]);
  let programFor = options.programFor;
  let requiredPlugins = options.requiredPlugins;
  let policyPack = options.policyPack;
  if (!programFor) {
    const program = await import('./program.js');
    programFor = await program.realProgramFactory();
    requiredPlugins ??= program.tierPlugins;
    policyPack ??= await (await import('../../policies/pack-directory.js')).compiledPolicyPackDirectory();
  }
  return new Agent({
    box: options.box,
    tier: options.tier,
    stores: { layout, trustPath: options.trustPath, journal, audit, agent: state, lock },
    hub: new HubClient({ url: options.hubUrl, token: apiKey, ...(options.hubTimeoutMs ? { timeoutMs: options.hubTimeoutMs } : {}) }),
    engine: {
      engines: options.engine,
      passphrase,
      programFor,
      ...(requiredPlugins ? { requiredPlugins } : {}),
      ...(policyPack ? { policyPack } : {}),
      ...(options.engineGraceMs !== undefined ? { graceMs: options.engineGraceMs } : {}),
      ...(options.stateBackend ? { stateBackend: options.stateBackend } : {}),
    },
    spec: await specRules(),
    host: {
      ...(options.hostOperations ? { operations: options.hostOperations } : {}),
      ...(options.storageMonitor ? { storageMonitor: options.storageMonitor } : {}),
    },
    runtime: {
      ...(options.logger ? { logger: options.logger } : {}),
      secrets,
      ...(options.env ? { env: options.env } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.beforeStep ? { beforeStep: options.beforeStep } : {}),
      ...(options.stopSignal ? { stopSignal: options.stopSignal } : {}),
    },
  });
}

/**
 * How the agent reads a spec: the box-spec validator over the project's catalog for received
 * spec bodies (each problem as `path: message`), and the resolver with the golden template's sizing.
 */
export async function specRules(): Promise<AgentSpecRules> {
  const { catalogLookup } = await import('../../stacks/spec/catalog.js');
  const { validateBoxSpec } = await import('../../stacks/spec/validate.js');
  const { resolveBox } = await import('../../stacks/spec/resolve.js');
  const { loadGoldenTemplate } = await import('../../templates/lib/golden.js');
  const catalog = catalogLookup();
  const sizing = loadGoldenTemplate().sizing;
  return {
    resolve: (spec) => resolveBox(spec, catalog, sizing),
    validateBody: (body, type) => {
      if (type !== 'spec') return [];
      const result = validateBoxSpec(body, { catalog });
      return result.ok ? [] : result.problems.map((problem) => `${problem.path || '(root)'}: ${problem.message}`);
    },
  };
}

/** A state backend URL's password (and the whole URL) is redacted from every log line. */
function registerBackendSecrets(url: string, secrets: SecretRegistry): void {
  secrets.add(url);
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) secrets.add(password);
  } catch {
    // the CLI checked the URL; a library caller's odd one is still redacted whole
  }
}
