/**
 * An engine runner that loads the Automation API — and with it the Pulumi SDK, about 80 MB
 * of resident memory — only when the first operation runs. An agent whose spec has not
 * changed since it started never needs it, and stays small in a customer's home server.
 */
import type { EngineOperation, EngineOutcome, EngineRunner, Engines, RecoveryOutcome, RunOptions, StackTarget } from './run.js';
import type { LocatedEngine } from './locate.js';
import type { PulumiFn } from '@pulumi/pulumi/automation/index.js';

export class LazyEngineRunner implements Engines {
  readonly #options: ConstructorParameters<typeof EngineRunner>[0];
  #runner: Promise<EngineRunner> | undefined;

  constructor(options: ConstructorParameters<typeof EngineRunner>[0] = {}) {
    this.#options = options;
  }

  #load(): Promise<EngineRunner> {
    this.#runner ??= import('./run.js').then(({ EngineRunner }) => new EngineRunner(this.#options));
    return this.#runner;
  }

  async engine(): Promise<LocatedEngine> {
    return (await this.#load()).engine();
  }

  async preflight(target: Pick<StackTarget, 'requiredPlugins'>): Promise<void> {
    return (await this.#load()).preflight(target);
  }

  async run(operation: EngineOperation, program: PulumiFn, target: StackTarget, options: RunOptions = {}): Promise<EngineOutcome> {
    return (await this.#load()).run(operation, program, target, options);
  }

  async recover(program: PulumiFn, target: StackTarget, options: RunOptions = {}): Promise<RecoveryOutcome> {
    return (await this.#load()).recover(program, target, options);
  }
}
