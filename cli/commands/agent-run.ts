/**
 * `felhom agent run`: the box agent's daemon. Long-polls the hub, applies what verifies, checks
 * drift every --drift-interval, backs off when the hub is down, and stops on SIGTERM/SIGINT
 * (no new step starts; a running engine operation gets a grace period). Logs are JSON lines
 * on stderr, with every secret the agent holds redacted.
 */
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { TIERS, type Tier } from '../../stacks/spec/types.js';
import type { HostOperations } from '../../runner/agent/deploy.js';
import type { StorageMonitor } from '../../runner/agent/storage-health.js';
import type { CommandContext, CommandModule } from '../command.js';
import { usageError } from '../errors.js';
import { commandLogger } from '../progress.js';
import { duration } from './envelope-io.js';
import type { Agent } from '../../runner/agent/agent.js';
import { LOG_LEVELS, type Logger } from '../../runner/agent/logger.js';

/** The environment variable `--state-backend` defaults to. */
export const STATE_BACKEND_ENV = 'FELHOM_STATE_BACKEND';

/**
 * The state backend the options or the environment name, checked: a `postgres://`, `postgresql://`
 * or `s3://` URL, for the edge tier only. A box's host and guest tiers keep their state on the box:
 * a stack's state decides what the engine changes, and neither the hub nor its database may hold
 * that for a box (docs/engine.md "State backends").
 */
export function stateBackendOption(options: Record<string, unknown>, env: NodeJS.ProcessEnv, tier: Tier): string | undefined {
  const given = options.stateBackend as string | undefined;
  const url = given ?? (env[STATE_BACKEND_ENV] || undefined);
  if (url === undefined) return undefined;
  const source = given !== undefined ? '--state-backend' : `$${STATE_BACKEND_ENV}`;
  if (!/^(?:postgres|postgresql|s3):\/\/[^\s]+$/.test(url)) throw usageError(`${source}: expected a postgres://, postgresql:// or s3:// URL`);
  try {
    new URL(url);
  } catch {
    throw usageError(`${source}: not a URL`);
  }
  if (tier !== 'edge') throw usageError(`${source}: only the edge tier keeps its state off the machine; the ${tier} tier's state stays in <state>/engine on the box`);
  return url;
}

/** The options `agent run` and `agent once` share. */
export function agentOptions(command: Command): Command {
  return command
    .option('--hub <url>', 'hub URL (default: $FELHOM_HUB_URL)')
    .requiredOption('--box <id>', 'this box id')
    .requiredOption('--tier <tier>', `the tier this agent runs: ${TIERS.join(', ')}`)
    .requiredOption('--state <dir>', 'the agent state directory')
    .requiredOption('--trust <store>', 'the box trust store (felhom trust init)')
    .option('--api-key-file <file>', 'the hub API key (default: <state>/keys/hub-api-key)')
    .option('--state-backend <url>', `edge tier only: keep the Pulumi state in PostgreSQL (postgres://…) or S3 (s3://…) instead of <state>/engine (default: $${STATE_BACKEND_ENV})`)
    .option('--log-level <level>', `least important log lines kept: ${LOG_LEVELS.join(', ')} (--debug: debug)`, 'info')
    .option('--log-format <format>', 'json (one object per line, for journald) or text (engine steps as progress lines; default on a terminal)');
}

/**
 * Proxmox operations (snapshot-before-deploy, rollback, restore) for the host tier, when this
 * machine is a Proxmox host (`pct` is on PATH), or over the PVE API with the storage check when
 * FELHOM_PROXMOX_API is set (runner/agent/host-access.ts). Elsewhere those jobs are refused with their
 * reason, and deploys run without a snapshot.
 */
export async function hostOperationsFor(tier: Tier, env: NodeJS.ProcessEnv, stateDir?: string): Promise<{ hostOperations?: HostOperations; storageMonitor?: StorageMonitor }> {
  if (tier !== 'host') return {};
  if (env.FELHOM_PROXMOX_API && stateDir) return (await import('../../runner/agent/host-access.js')).proxmoxApiAccess(env, stateDir);
  const { access } = await import('node:fs/promises');
  const { constants } = await import('node:fs');
  const { join, delimiter } = await import('node:path');
  const directories = (env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const directory of directories) {
    try {
      await access(join(directory, 'pct'), constants.X_OK);
      const { ProxmoxCliOperations } = await import('../../runner/agent/proxmox-operations.js');
      return { hostOperations: new ProxmoxCliOperations() };
    } catch {
      // not in this directory
    }
  }
  return {};
}

export async function openCliAgent(context: CommandContext, options: Record<string, unknown>, extra: { stopSignal?: AbortSignal } = {}): Promise<{ agent: Agent; logger: Logger }> {
  const hubUrl = (options.hub as string | undefined) ?? context.env.FELHOM_HUB_URL;
  if (!hubUrl) throw usageError('--hub: no hub URL given and $FELHOM_HUB_URL is not set');
  if (!TIERS.includes(options.tier as Tier)) throw usageError(`--tier: expected one of ${TIERS.join(', ')}, got ${JSON.stringify(options.tier)}`);
  const [{ openAgent }, { LazyEngineRunner }, { SecretRegistry }, { HubSuppliedEngines }, { readSecretFile, stateLayout }] = await Promise.all([
    import('../../runner/agent/open.js'),
    import('../../runner/engine/lazy-runner.js'),
    import('../../runner/agent/logger.js'),
    import('../../runner/agent/engine-supply.js'),
    import('../../runner/agent/state-dir.js'),
  ]);
  const stateBackend = stateBackendOption(options, context.env, options.tier as Tier);
  const secrets = new SecretRegistry();
  // The engine home the command's environment names (FELHOM_ENGINE_HOME), else the project's `.engine/`.
  const engineHome = context.env.FELHOM_ENGINE_HOME ? resolve(context.cwd, context.env.FELHOM_ENGINE_HOME) : undefined;
  const logger = await commandLogger(context, options, secrets);
  const agent = await openAgent({
    box: options.box as string,
    tier: options.tier as Tier,
    stateDir: resolve(context.cwd, options.state as string),
    trustPath: resolve(context.cwd, options.trust as string),
    hubUrl,
    ...(options.apiKeyFile ? { apiKeyFile: resolve(context.cwd, options.apiKeyFile as string) } : {}),
    // A missing engine or plugin comes from the hub's engine mirror, checked against this box's pins.
    engine: new HubSuppliedEngines(() => new LazyEngineRunner(engineHome ? { engineHome } : {}), {
      hubUrl,
      ...(engineHome ? { engineHome } : {}),
      box: options.box as string,
      apiKey: () => readSecretFile(options.apiKeyFile ? resolve(context.cwd, options.apiKeyFile as string) : stateLayout(resolve(context.cwd, options.state as string)).hubApiKey),
      logger,
    }),
    ...(await hostOperationsFor(options.tier as Tier, context.env, resolve(context.cwd, options.state as string))),
    ...(stateBackend ? { stateBackend } : {}),
    logger,
    secrets,
    env: context.env,
    ...(extra.stopSignal ? { stopSignal: extra.stopSignal } : {}),
  });
  return { agent, logger };
}

const command: CommandModule = {
  description: 'run the box agent until stopped: pull, verify, apply, report, audit (docs/agent.md)',
  configure(command: Command) {
    agentOptions(command)
      .option('--drift-interval <duration>', 'how often to check drift (refresh + preview)', '6h')
      .option('--wait <seconds>', 'long-poll wait per cycle', '60')
      .option('--local-api <dir>', "the guests' local API (tokens, a socket per guest), served on the host tier with FELHOM_PROXMOX_API (default: <state>/local-api)")
      .option('--local-api-sockets <dir>', "where each guest's socket directory is made, bind-mounted into its LXC: every directory above it must be traversable by others (default: <local-api>/sockets)")
      .option('--controller-package <deb>', 'the felhom-agent package the agent installs into each guest with the controller, through pct (default: $FELHOM_CONTROLLER_PACKAGE, else <state>/controller.deb)');
  },
  async run(context, _args, options) {
    const driftIntervalMs = duration(String(options.driftInterval), '--drift-interval');
    const waitSeconds = Number(options.wait);
    if (!Number.isInteger(waitSeconds) || waitSeconds < 1 || waitSeconds > 60) throw usageError(`--wait: expected 1..60 seconds, got ${String(options.wait)}`);
    const stop = context.stopSignal;
    const [{ runDaemon }, { LockHeldError }, { Backoff }] = await Promise.all([
      import('../../runner/agent/daemon.js'),
      import('../../runner/state/lock.js'),
      import('../../runner/hub/backoff.js'),
    ]);
    // Another agent on this state dir: wait for it (a restart overlapping the old process).
    const backoff = new Backoff({ baseMs: 1000, capMs: 60_000 });
    for (;;) {
      try {
        const { agent, logger } = await openCliAgent(context, options, { stopSignal: stop });
        const state = resolve(context.cwd, options.state as string);
        const { agentLocalApiFromEnv } = await import('../../runner/local-api/agent-local-api.js');
        const localApiDir = options.localApi ? resolve(context.cwd, options.localApi as string) : join(state, 'local-api');
        const socketDir = options.localApiSockets ? resolve(context.cwd, options.localApiSockets as string) : undefined;
        const localApi = await agentLocalApiFromEnv(agent, { env: context.env, stateDir: state, dir: localApiDir, ...(socketDir ? { socketDir } : {}) }).catch(async (error: unknown) => {
          await agent.close();
          throw error;
        });
        // The controller of each guest, deployed by this agent through pct (docs/agent.md "Deploying the controller").
        const { agentControllerRollout } = await import('../../runner/enrollment/controller-deploy.js');
        const { readSecretFile, stateLayout } = await import('../../runner/agent/state-dir.js');
        const packageOption = (options.controllerPackage as string | undefined) ?? context.env.FELHOM_CONTROLLER_PACKAGE;
        const rollout = await agentControllerRollout({
          agent,
          localApi,
          localApiDir,
          env: context.env,
          hubUrl: (options.hub as string | undefined) ?? context.env.FELHOM_HUB_URL!,
          hubApiKey: async () => {
            const file = options.apiKeyFile ? resolve(context.cwd, options.apiKeyFile as string) : stateLayout(state).hubApiKey;
            const key = await readSecretFile(file);
            if (!key) throw new Error(`the box's hub API key is missing: ${file}`);
            return key;
          },
          trustPath: resolve(context.cwd, options.trust as string),
          packageFile: packageOption ? resolve(context.cwd, packageOption) : join(state, 'controller.deb'),
          log: logger,
        }).catch(async (error: unknown) => {
          await localApi?.close();
          await agent.close();
          throw error;
        });
        if ('off' in rollout && options.tier === 'host') logger.info('controller deployment off', { reason: rollout.off });
        // One rollout at a time (installing a package into a guest can outlast a cycle), awaited before the local API closes.
        let rolling: Promise<void> | undefined;
        const afterCycle = async () => {
          await localApi?.refresh();
          if (!('run' in rollout) || rolling) return;
          rolling = rollout.run().finally(() => {
            rolling = undefined;
          });
          await rolling;
        };
        const warn = (error: unknown) => logger.warn('local API refresh or controller rollout failed', { message: (error as Error).message });
        // A guest a newly applied spec adds gets its socket, then its controller, after the cycle that applied it.
        const onCycle = localApi ? () => void afterCycle().catch(warn) : undefined;
        try {
          if (localApi) {
            logger.info('local API serving', { guests: await localApi.refresh() });
            void afterCycle().catch(warn);
          }
          await runDaemon(agent, { stopSignal: stop, waitSeconds, driftIntervalMs, logger, ...(onCycle ? { onCycle } : {}) });
        } finally {
          await (rolling as Promise<void> | undefined)?.catch(() => undefined);
          await localApi?.close();
          await agent.close();
        }
        return 0;
      } catch (error) {
        if (!(error instanceof LockHeldError) || stop.aborted) throw error;
        const delay = backoff.next();
        context.out.warn(JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: 'stack lock held by another agent; waiting', holderPid: error.holder.pid, delayMs: delay }));
        await sleep(delay, undefined, { signal: stop }).catch(() => undefined);
        if (stop.aborted) return 0;
      }
    }
  },
};
export default command;
