/**
 * A Pulumi Automation API stack for an inline program, run by the engine that
 * `npm run engine:install` installed, with its state in a local file backend and its secrets
 * encrypted by a passphrase. Inline programs run inside this Node process (the Automation API
 * serves them to the CLI with `--client`), so no Node language host plugin is needed.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LocalWorkspace, PulumiCommand, type PulumiFn, type Stack } from '@pulumi/pulumi/automation/index.js';
import { locateEngine, requirePlugins, type InstalledPlugin, type LocatedEngine } from './locate.js';

export interface CreateWorkspaceOptions {
  /** Pulumi project name; state is kept per project and stack. */
  readonly projectName: string;
  /** Stack name within the project. */
  readonly stackName: string;
  /** The inline program to run. */
  readonly program: PulumiFn;
  /**
   * Folder of the file backend (`file://<stateDir>`); the engine keeps its state under
   * `<stateDir>/.pulumi`, and the workspace's settings (the stack's encryption salt) under
   * `<stateDir>/workspaces/<projectName>`.
   */
  readonly stateDir: string;
  /**
   * Where the stack's state lives instead of the file backend under `stateDir`: a `postgres://`
   * URL (Pulumi's PostgreSQL backend, in the CLI since v3.170) or an `s3://` one, so a tier's
   * state can live off the machine that runs it (the edge tier on the hub's database).
   * `stateDir` still holds the workspace settings.
   * @default `file://<stateDir>`
   */
  readonly backendUrl?: string;
  /** Passphrase of the stack's secrets provider; only ever handed to the engine's environment. */
  readonly passphrase: string;
  /**
   * The engine to run.
   * @default - the one `locateEngine()` finds in the project's `.engine/`
   */
  readonly engine?: LocatedEngine;
  /**
   * Plugins the program needs; checked before the engine starts so a missing one is a typed
   * PluginNotInstalledError rather than an engine failure half-way through an update.
   * @default - none checked
   */
  readonly requiredPlugins?: readonly InstalledPlugin[];
  /**
   * Extra environment for the engine and its providers.
   * @default - none
   */
  readonly envVars?: Readonly<Record<string, string>>;
}

/** A selected stack ready for `up`, `preview`, `refresh` and `destroy`. */
export interface FelhomWorkspace {
  readonly stack: Stack;
  readonly workspace: LocalWorkspace;
  readonly engine: LocatedEngine;
  /** The backend URL the stack's state lives in. */
  readonly backendUrl: string;
}

/** Creates the stack when it is new, selects it otherwise. */
export async function createWorkspace(options: CreateWorkspaceOptions): Promise<FelhomWorkspace> {
  if (!options.passphrase) throw new Error('createWorkspace: passphrase must not be empty (the stack secrets are encrypted with it)');
  const engine = options.engine ?? (await locateEngine());
  if (options.requiredPlugins) requirePlugins(engine, options.requiredPlugins);

  const stateDir = resolve(options.stateDir);
  const workDir = join(stateDir, 'workspaces', options.projectName);
  await mkdir(workDir, { recursive: true });
  if (options.backendUrl !== undefined && !/^(?:file|postgres|postgresql|s3):\/\//.test(options.backendUrl)) {
    throw new Error('createWorkspace: backendUrl must be a file://, postgres:// or s3:// URL');
  }
  const backendUrl = options.backendUrl ?? `file://${stateDir}`;
  const pulumiCommand = await PulumiCommand.get({ root: engine.root });

  const stack = await LocalWorkspace.createOrSelectStack(
    { projectName: options.projectName, stackName: options.stackName, program: options.program },
    {
      workDir,
      pulumiHome: engine.root,
      pulumiCommand,
      secretsProvider: 'passphrase',
      projectSettings: { name: options.projectName, runtime: 'nodejs', backend: { url: backendUrl } },
      envVars: {
        ...engine.env,
        ...options.envVars,
        PULUMI_BACKEND_URL: backendUrl,
        PULUMI_CONFIG_PASSPHRASE: options.passphrase,
      },
    },
  );
  return { stack, workspace: stack.workspace as LocalWorkspace, engine, backendUrl };
}
