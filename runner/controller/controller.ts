/**
 * The in-guest controller (docs/architecture.md#customer-node; docs/agent.md "The in-guest controller"): opened on its
 * state directory, it runs {@link controllerCycle} once or until stopped, with the guest tier's
 * program through the runner's engine ({@link GuestEngineDeploy}) and the post-deploy health
 * check (runner/controller/health.ts). It holds no Proxmox credential: what it needs of the host
 * it asks the agent's local API over the socket bind-mounted into its guest.
 *
 * State (`<state>`, the agent's layout, runner/agent/state-dir.ts):
 *
 *   keys/hub-api-key        the controller's own hub credential (guest tier only), 0600
 *   keys/local-api-token    its token for the agent's local API, 0600
 *   keys/ui-password        the customer's audit-page password, as an scrypt hash (`felhom controller ui-password`)
 *   keys/stack-passphrase   the guest stack's secrets passphrase (generated on first run)
 *   engine/                 the guest stack's file backend
 *   controller.json         the spec ETag last finished and the rollback floor
 *   locks/<box>.guest.<guest>.lock   one controller per state directory
 *
 * The agent writes the two credentials into the guest when it deploys the controller
 * (runner/local-api/controller-credentials.ts `mintControllerCredentials`).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FelhomError } from '../../lib/errors.js';
import { AgentSetupError, toReason } from '../agent/errors.js';
import { SecretRegistry, silentLogger, type Logger } from '../agent/logger.js';
import type { ProgramFactory } from '../agent/program.js';
import { loadOrCreateStackPassphrase, prepareStateDir, readSecretFile, type StateLayout } from '../agent/state-dir.js';
import type { InstalledPlugin } from '../engine/locate.js';
import type { Engines } from '../engine/run.js';
import { loadTrustStore } from '../envelope/index.js';
import { Backoff, type BackoffOptions } from '../hub/backoff.js';
import { HubClient } from '../hub/client.js';
import { LocalApiClient } from '../local-api/client.js';
import { acquireLock, stackLockFile, type Lock } from '../state/lock.js';
import type { TierEnvironment } from '../../stacks/environment.js';
import { controllerCycle, type ControllerCycleResult } from './cycle.js';
import { GuestEngineDeploy } from './engine-deploy.js';
import { appTargets, checkHealth, urlTargets, type HealthCheckOptions, type HealthResult, type TraefikAddress } from './health.js';

export const LOCAL_API_TOKEN_FILE = 'local-api-token';

/** The health check after a deploy. */
export interface ControllerHealthOptions extends HealthCheckOptions {
  /** Ask these URLs instead of the apps' routes. @default - every HTTP app of this guest through Traefik */
  readonly urls?: readonly string[];
  /** Where Traefik listens for the default check. @default - 127.0.0.1:80 */
  readonly traefik?: TraefikAddress;
}

export interface OpenControllerOptions {
  readonly box: string;
  readonly guest: string;
  readonly stateDir: string;
  readonly trustPath: string;
  readonly hubUrl: string;
  readonly localApiSocket: string;
  readonly engines: Engines;
  /** @default - the real tier programs, their plugins and the compiled policy pack */
  readonly programFor?: ProgramFactory;
  readonly requiredPlugins?: () => Promise<readonly InstalledPlugin[]>;
  /** @default - with the real programs, the compiled Felhom pack; with `programFor`, none */
  readonly policyPack?: string | false;
  readonly health?: ControllerHealthOptions;
  /** Replaces the HTTP health check (tests). */
  readonly healthCheck?: () => Promise<HealthResult>;
  readonly dockerHost?: string;
  readonly traefik?: TierEnvironment['traefik'];
  readonly logger?: Logger;
  readonly secrets?: SecretRegistry;
  readonly stopSignal?: AbortSignal;
  readonly engineGraceMs?: number;
  /** @default 30 000 ms */
  readonly hubTimeoutMs?: number;
}

export class Controller {
  readonly box: string;
  readonly guest: string;
  readonly layout: StateLayout;
  readonly deployer: GuestEngineDeploy;
  readonly #o: OpenControllerOptions;
  readonly #hub: HubClient;
  readonly #localApi: LocalApiClient;
  readonly #lock: Lock;
  readonly #validateBody: (body: unknown, type: string) => string[];
  readonly #log: Logger;

  constructor(fields: { options: OpenControllerOptions; layout: StateLayout; hub: HubClient; localApi: LocalApiClient; lock: Lock; deployer: GuestEngineDeploy; validateBody: (body: unknown, type: string) => string[] }) {
    this.#o = fields.options;
    this.box = fields.options.box;
    this.guest = fields.options.guest;
    this.layout = fields.layout;
    this.deployer = fields.deployer;
    this.#hub = fields.hub;
    this.#localApi = fields.localApi;
    this.#lock = fields.lock;
    this.#validateBody = fields.validateBody;
    this.#log = fields.options.logger ?? silentLogger;
  }

  /** The agent's local API as this controller holds it (the customer's audit page reads through it). */
  get localApi(): LocalApiClient {
    return this.#localApi;
  }

  async #healthCheck(): Promise<HealthResult> {
    if (this.#o.healthCheck) return this.#o.healthCheck();
    const health = this.#o.health ?? {};
    const box = this.deployer.applied;
    const targets = health.urls && health.urls.length > 0 ? urlTargets(health.urls) : box ? appTargets(box, this.guest, health.traefik) : [];
    return checkHealth(targets, { ...health, ...(this.#o.stopSignal ? { signal: this.#o.stopSignal } : {}) });
  }

  /** One cycle: a new guest spec is verified, deployed inside a snapshot, health checked, reported. */
  async once(options: { waitSeconds?: number; signal?: AbortSignal } = {}): Promise<ControllerCycleResult> {
    const result = await controllerCycle({
      hub: this.#hub,
      box: this.box,
      guest: this.guest,
      trust: await loadTrustStore(this.#o.trustPath),
      localApi: this.#localApi,
      stateDir: this.layout.root,
      validateBody: this.#validateBody,
      prepare: this.deployer.prepare,
      deploy: this.deployer.deploy,
      healthCheck: () => this.#healthCheck(),
      ...(options.waitSeconds ? { waitSeconds: options.waitSeconds } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (result.status === 'idle') this.#log.debug('no new guest spec');
    else if (result.status === 'succeeded') this.#log.info('guest spec applied', { serial: result.serial, jobId: result.jobId });
    else this.#log.warn(`guest spec ${result.status}`, { serial: result.serial, jobId: result.jobId, reason: result.reason?.code, message: result.reason?.message });
    return result;
  }

  async close(): Promise<void> {
    await this.#lock.release();
  }
}

export async function openController(options: OpenControllerOptions): Promise<Controller> {
  const layout = await prepareStateDir(options.stateDir);
  const lock = await acquireLock(stackLockFile(layout.root, `${options.box}.guest.${options.guest}`));
  try {
    const secrets = options.secrets ?? new SecretRegistry();
    const hubKey = await readSecretFile(layout.hubApiKey);
    if (!hubKey) throw new AgentSetupError(`no hub API key in ${layout.hubApiKey}: the agent writes the controller's key there when it deploys the controller (mode 0600)`);
    const tokenFile = join(layout.keys, LOCAL_API_TOKEN_FILE);
    const localToken = await readSecretFile(tokenFile);
    if (!localToken) throw new AgentSetupError(`no local-API token in ${tokenFile}: the agent writes it there when it deploys the controller (mode 0600)`);
    secrets.add(hubKey);
    secrets.add(localToken);
    const passphrase = await loadOrCreateStackPassphrase(layout);
    let { programFor, requiredPlugins, policyPack } = options;
    if (!programFor) {
      const program = await import('../agent/program.js');
      programFor = await program.realProgramFactory();
      requiredPlugins ??= () => program.tierPlugins('guest');
      policyPack ??= await (await import('../../policies/pack.js')).compiledPolicyPackDirectory();
    }
    const { specRules } = await import('../agent/open.js');
    const rules = await specRules();
    const deployer = new GuestEngineDeploy({
      box: options.box,
      guest: options.guest,
      engineDir: layout.engine,
      stateDir: layout.root,
      engines: options.engines,
      passphrase,
      programFor,
      resolve: rules.resolve,
      ...(requiredPlugins ? { requiredPlugins } : {}),
      ...(policyPack ? { policyPack } : {}),
      ...(options.dockerHost ? { dockerHost: options.dockerHost } : {}),
      ...(options.traefik ? { traefik: options.traefik } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.stopSignal ? { stopSignal: options.stopSignal } : {}),
      ...(options.engineGraceMs !== undefined ? { graceMs: options.engineGraceMs } : {}),
    });
    return new Controller({
      options,
      layout,
      hub: new HubClient({ url: options.hubUrl, token: hubKey, ...(options.hubTimeoutMs ? { timeoutMs: options.hubTimeoutMs } : {}) }),
      localApi: new LocalApiClient({ socketPath: options.localApiSocket, token: localToken }),
      lock,
      deployer,
      validateBody: rules.validateBody as (body: unknown, type: string) => string[],
    });
  } catch (error) {
    await lock.release();
    throw error;
  }
}

export interface RunControllerOptions {
  readonly stopSignal: AbortSignal;
  /** Long-poll wait per cycle. @default 60 s */
  readonly waitSeconds?: number;
  readonly backoff?: BackoffOptions;
  readonly logger?: Logger;
  /** Called after each cycle. */
  readonly onCycle?: (result: ControllerCycleResult) => void;
}

/**
 * Cycles until stopped. A cycle that throws (the hub down or answering nonsense, the trust store
 * unreadable) is logged with its reason and tried again with full-jitter backoff; the applied
 * state stays as it is.
 */
export async function runController(controller: Controller, options: RunControllerOptions): Promise<void> {
  const log = options.logger ?? silentLogger;
  const backoff = new Backoff({ capMs: 60_000, ...options.backoff });
  log.info('controller started', { box: controller.box, guest: controller.guest });
  while (!options.stopSignal.aborted) {
    try {
      const result = await controller.once({ waitSeconds: options.waitSeconds ?? 60, signal: options.stopSignal });
      options.onCycle?.(result);
      backoff.reset();
    } catch (error) {
      if (options.stopSignal.aborted) break;
      const reason = toReason(error);
      const delay = backoff.next();
      log.warn('controller cycle stopped; retrying with backoff', { reason: reason.code, message: reason.message, kind: error instanceof FelhomError ? error.kind : 'generic', delayMs: delay });
      await sleep(delay, undefined, { signal: options.stopSignal }).catch(() => undefined);
    }
  }
  log.info('controller stopped', { box: controller.box, guest: controller.guest });
}
