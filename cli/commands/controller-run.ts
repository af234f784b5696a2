/**
 * `felhom controller run`: the in-guest controller's daemon, inside the customer LXC. Long-polls
 * the hub for the guest tier's signed spec with the controller's own credential, verifies it,
 * deploys the guest program (Traefik, one AppStack per app of this guest) through the runner's
 * engine inside a snapshot the agent takes over the local API, health checks the apps, rolls
 * back through the local API when they do not answer, and reports to the hub directly. Stops on
 * SIGTERM/SIGINT. Logs are JSON lines on stderr (text on a terminal), every secret redacted.
 */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Controller } from '../../runner/controller/controller.js';
import type { Logger } from '../../runner/agent/logger.js';
import { LOG_LEVELS } from '../../runner/agent/logger.js';
import type { CommandContext, CommandModule } from '../command.js';
import { usageError } from '../errors.js';
import { commandLogger } from '../progress.js';
import { collect, duration } from './envelope-io.js';

/**
 * Where the guest sees the agent's local-API socket unless told otherwise: the mount point in the
 * LXC of the agent's `<state>/local-api/sockets/<guest>/` (docs/agent.md "The local constrained API").
 */
export const DEFAULT_LOCAL_API_SOCKET = '/var/lib/felhom/local-api/api.sock';

/** The options `controller run` and `controller once` share. */
export function controllerOptions(command: Command): Command {
  return command
    .option('--hub <url>', 'hub URL (default: $FELHOM_HUB_URL)')
    .requiredOption('--box <id>', 'the box this guest is on')
    .requiredOption('--guest <name>', "this guest's name in the box spec")
    .requiredOption('--state <dir>', 'the controller state directory (keys/hub-api-key, keys/local-api-token)')
    .requiredOption('--trust <store>', 'the trust store of operator keys the guest specs must be signed with')
    .option('--local-api <socket>', "the agent's local-API socket as mounted in this guest", DEFAULT_LOCAL_API_SOCKET)
    .option('--health-url <url>', 'after a deploy, this URL must answer (repeatable; default: every HTTP app of this guest through Traefik)', collect)
    .option('--health-timeout <duration>', 'how long the apps get to answer after a deploy', '60s')
    .option('--traefik-port <port>', "Traefik's HTTP port in this guest, for the default health check", '80')
    .option('--docker-host <url>', "this guest's Docker daemon (default: unix:///var/run/docker.sock)")
    .option('--log-level <level>', `least important log lines kept: ${LOG_LEVELS.join(', ')} (--debug: debug)`, 'info')
    .option('--log-format <format>', 'json (one object per line, for journald) or text (default on a terminal)');
}

/** `<host>:<port>` of `--ui-listen` (an IPv6 host in brackets). */
export function hostPort(value: unknown): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(String(value));
  const portNumber = match ? Number(match[2]) : NaN;
  if (!match || portNumber < 0 || portNumber > 65_535) throw usageError(`--ui-listen: expected <host>:<port>, such as 127.0.0.1:8080, got ${JSON.stringify(value)}`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port: portNumber };
}

/** The customer's password hash, `<state>/keys/ui-password`; missing or malformed is the set-up's error, naming the file. */
export async function uiPasswordHash(stateDir: string): Promise<string> {
  const { UI_PASSWORD_FILE, readUiPasswordHash } = await import('../../runner/controller/ui-password.js');
  const file = join(stateDir, 'keys', UI_PASSWORD_FILE);
  return readUiPasswordHash(file);
}

function port(value: unknown): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65_535) throw usageError(`--traefik-port: expected a port 1..65535, got ${JSON.stringify(value)}`);
  return parsed;
}

function healthUrls(values: unknown): string[] {
  const urls = (values as string[] | undefined) ?? [];
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw usageError(`--health-url: expected an http:// or https:// URL, got ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw usageError(`--health-url: expected an http:// or https:// URL, got ${JSON.stringify(url)}`);
  }
  return urls;
}

/** Opens the controller the command line describes, with the real guest program on the runner's engine. */
export async function openCliController(context: CommandContext, options: Record<string, unknown>): Promise<{ controller: Controller; logger: Logger }> {
  const hubUrl = (options.hub as string | undefined) ?? context.env.FELHOM_HUB_URL;
  if (!hubUrl) throw usageError('--hub: no hub URL given and $FELHOM_HUB_URL is not set');
  const urls = healthUrls(options.healthUrl);
  const timeoutMs = duration(String(options.healthTimeout), '--health-timeout');
  const traefikPort = port(options.traefikPort);
  const [{ openController }, { LazyEngineRunner }, { SecretRegistry }] = await Promise.all([
    import('../../runner/controller/controller.js'),
    import('../../runner/engine/lazy-runner.js'),
    import('../../runner/agent/logger.js'),
  ]);
  const secrets = new SecretRegistry();
  const logger = await commandLogger(context, options, secrets);
  // The engine home the command's environment names (FELHOM_ENGINE_HOME), else the project's `.engine/`.
  const engineHome = context.env.FELHOM_ENGINE_HOME ? resolve(context.cwd, context.env.FELHOM_ENGINE_HOME) : undefined;
  const controller = await openController({
    box: options.box as string,
    guest: options.guest as string,
    stateDir: resolve(context.cwd, options.state as string),
    trustPath: resolve(context.cwd, options.trust as string),
    hubUrl,
    localApiSocket: resolve(context.cwd, options.localApi as string),
    engines: new LazyEngineRunner(engineHome ? { engineHome } : {}),
    health: { timeoutMs, ...(urls.length > 0 ? { urls } : {}), traefik: { port: traefikPort } },
    ...(traefikPort !== 80 ? { traefik: { httpPort: traefikPort } } : {}),
    ...(options.dockerHost ? { dockerHost: options.dockerHost as string } : {}),
    logger,
    secrets,
    stopSignal: context.stopSignal,
  });
  return { controller, logger };
}

const command: CommandModule = {
  description: 'run the in-guest controller until stopped: pull, verify, snapshot, deploy, health check, report (docs/agent.md)',
  configure(command: Command) {
    controllerOptions(command)
      .option('--wait <seconds>', 'long-poll wait per cycle', '60')
      .option('--ui-listen <host:port>', "serve the customer's audit page there (through the tunnel), its password hash from <state>/keys/ui-password (felhom controller ui-password)");
  },
  async run(context, _args, options) {
    const waitSeconds = Number(options.wait);
    if (!Number.isInteger(waitSeconds) || waitSeconds < 1 || waitSeconds > 60) throw usageError(`--wait: expected 1..60 seconds, got ${String(options.wait)}`);
    const listen = options.uiListen === undefined ? undefined : hostPort(options.uiListen);
    const state = resolve(context.cwd, options.state as string);
    // The hash is read before anything starts: a box without one says so and serves nothing.
    const passwordHash = listen ? await uiPasswordHash(state) : undefined;
    const { runController } = await import('../../runner/controller/controller.js');
    const { controller, logger } = await openCliController(context, options);
    let page: { url: string; close(): Promise<void> } | undefined;
    try {
      if (listen && passwordHash) {
        const { startAuditPage } = await import('../../runner/controller/audit-page.js');
        page = await startAuditPage({ localApi: controller.localApi, passwordHash, host: listen.host, port: listen.port });
        logger.info("customer's audit page serving", { url: page.url });
      }
      await runController(controller, { stopSignal: context.stopSignal, waitSeconds, logger });
    } finally {
      await page?.close();
      await controller.close();
    }
    return 0;
  },
};
export default command;
