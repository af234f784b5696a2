/**
 * Boxes install their engine from the operator, not the internet: when the engine or a plugin a
 * tier needs is missing, the agent runs `engine/install.mjs --mirror-only` against its hub's
 * engine mirror (`GET /v1/boxes/<box>/engine/<file>`, with the box's API key) and then looks
 * for the engine again. The hub is untrusted: install.mjs checks every archive against the
 * digests this box's own engine/plugins.json pins (or the SHA256SUMS plus the plugin's own
 * version where a digest is unknown), and a refusal becomes a stalled EENGINE_REFUSED that the
 * agent journals and reports like any failed apply. A hub with nothing to give leaves the
 * stalled EPLUGIN_MISSING (or EENGINE_MISSING), with the hub's reason added.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { PulumiFn } from '@pulumi/pulumi/automation/index.js';
import { findProjectRoot, type LocatedEngine } from '../engine/locate.js';
import { EngineMissingError, EnginePluginMissingError } from '../engine/errors.js';
import type { EngineOperation, EngineOutcome, Engines, RecoveryOutcome, RunOptions, StackTarget } from '../engine/run.js';
import { engineMirrorPath } from '../../hub/engine-mirror.js';
import { AgentError } from './errors.js';
import { silentLogger, type Logger } from './logger.js';

export interface HubEngineSupplyOptions {
  readonly hubUrl: string;
  readonly box: string;
  /** The box's hub API key, read when an install is needed. */
  readonly apiKey: () => Promise<string | undefined>;
  /** @default - FELHOM_ENGINE_HOME, else the project's `.engine/` (where locateEngine looks) */
  readonly engineHome?: string;
  /** @default - the felhom project this module belongs to */
  readonly projectRoot?: string;
  readonly logger?: Logger;
  /** @default 30 minutes */
  readonly timeoutMs?: number;
}

/** What engine/install.mjs wrote to `<engine home>/install.json`. */
interface InstallReport {
  readonly plugins?: readonly { name: string; version: string; installed: boolean; source?: string; sha256?: string; reasons?: readonly string[] }[];
  readonly refused?: readonly { message: string }[];
}

/** Installs the named plugins (and the CLI when it is missing) from the hub's engine mirror. */
export async function installEngineFromHub(options: HubEngineSupplyOptions, plugins: readonly string[]): Promise<void> {
  const logger = options.logger ?? silentLogger;
  const apiKey = await options.apiKey();
  if (!apiKey) throw new AgentError('EENGINE_SUPPLY', 'stalled', 'no hub API key to fetch the engine from the hub with');
  const projectRoot = options.projectRoot ?? findProjectRoot();
  const engineHome = resolve(options.engineHome ?? process.env.FELHOM_ENGINE_HOME ?? join(projectRoot, '.engine'));
  const mirror = new URL(engineMirrorPath(options.box), options.hubUrl.endsWith('/') ? options.hubUrl : `${options.hubUrl}/`).href;
  const args = [join(projectRoot, 'engine', 'install.mjs'), '--mirror', mirror, '--mirror-only', ...(plugins.length ? ['--only', plugins.join(',')] : ['--cli-only'])];
  logger.info('installing the engine from the hub', { mirror, plugins });
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(process.execPath, args, {
      env: { ...process.env, FELHOM_ENGINE_HOME: engineHome, FELHOM_ENGINE_MIRROR_TOKEN: apiKey },
      timeout: options.timeoutMs ?? 1_800_000,
      maxBuffer: 16 * 1024 * 1024,
    }, (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
  });
  for (const line of result.stdout.split('\n').filter(Boolean)) logger.debug('engine install', { line });
  const report = JSON.parse(await readFile(join(engineHome, 'install.json'), 'utf8').catch(() => '{}')) as InstallReport;
  if (report.refused?.length) {
    throw new AgentError('EENGINE_REFUSED', 'stalled', `the hub's engine mirror served what this box refuses: ${report.refused.map((entry) => entry.message).join('; ')}`);
  }
  const missing = (report.plugins ?? []).filter((plugin) => !plugin.installed);
  if (result.code !== 0 || missing.length) {
    const why = missing.length ? missing.map((plugin) => `${plugin.name} ${plugin.version}: ${(plugin.reasons ?? []).join('; ')}`).join('; ') : result.stderr.trim().split('\n').pop();
    throw new AgentError('EENGINE_SUPPLY', 'stalled', `the engine could not be installed from the hub's mirror ${mirror}: ${why}`);
  }
  for (const plugin of report.plugins ?? []) logger.info('engine plugin installed', { plugin: plugin.name, version: plugin.version, source: plugin.source, sha256: plugin.sha256 });
}

/**
 * Engines that fetch what is missing from the hub before the first operation: a preflight that
 * fails for a missing engine or plugin installs it and checks again (with a freshly located
 * engine); everything else goes to the engines it wraps.
 */
export class HubSuppliedEngines implements Engines {
  readonly #make: () => Engines;
  readonly #options: HubEngineSupplyOptions;
  #inner: Engines;

  constructor(make: () => Engines, options: HubEngineSupplyOptions) {
    this.#make = make;
    this.#options = options;
    this.#inner = make();
  }

  engine(): Promise<LocatedEngine> {
    return this.#inner.engine();
  }

  async preflight(target: Pick<StackTarget, 'requiredPlugins'>): Promise<void> {
    try {
      return await this.#inner.preflight(target);
    } catch (error) {
      if (!(error instanceof EnginePluginMissingError) && !(error instanceof EngineMissingError)) throw error;
      const wanted = error instanceof EnginePluginMissingError
        ? (target.requiredPlugins ?? []).filter((plugin) => error.missing.includes(`${plugin.name} ${plugin.version}`)).map((plugin) => plugin.name)
        : (target.requiredPlugins ?? []).map((plugin) => plugin.name);
      try {
        await installEngineFromHub(this.#options, wanted);
      } catch (supply) {
        // A refusal is its own failure; a mirror that has nothing to give leaves the original one,
        // saying also why the hub could not help.
        if (!(supply instanceof AgentError) || supply.code !== 'EENGINE_SUPPLY') throw supply;
        const message = `${error.message}; the hub could not supply it: ${supply.message}`;
        throw error instanceof EnginePluginMissingError ? new EnginePluginMissingError(message, error.missing, { cause: supply }) : new EngineMissingError(message, { cause: supply });
      }
      this.#inner = this.#make();
      return this.#inner.preflight(target);
    }
  }

  run(operation: EngineOperation, program: PulumiFn, target: StackTarget, options?: RunOptions): Promise<EngineOutcome> {
    return this.#inner.run(operation, program, target, options);
  }

  recover(program: PulumiFn, target: StackTarget, options?: RunOptions): Promise<RecoveryOutcome> {
    return this.#inner.recover(program, target, options);
  }
}
