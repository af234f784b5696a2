/** The shape of one `felhom` command module (one module per command, as npm/cli does). */
import type { Command } from 'commander';
import type { Output } from './output.js';

export interface CommandContext {
  readonly out: Output;
  readonly debug: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); long-running commands watch it. */
  readonly stopSignal: AbortSignal;
  /** The whole command tree, every command configured: only for `felhom completion`. */
  readonly program?: Command;
}

export interface CommandModule {
  /** One line for `felhom --help`. */
  readonly description: string;
  /** Declares arguments and options on the command commander created for it. */
  configure(command: Command): void;
  /**
   * Runs the command. `args` are the positional arguments in declaration order (a variadic last
   * argument spread into them), `options` commander's parsed options. Returns the exit status
   * (0 when omitted).
   */
  run(context: CommandContext, args: string[], options: Record<string, unknown>): Promise<number | void>;
}
