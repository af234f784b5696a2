/**
 * Entry point of the `felhom` command: builds the commander program from the command table,
 * loads only the invoked command's module, and turns errors into one line and an exit status.
 */
import { Command, CommanderError } from 'commander';
import type { CommandContext, CommandModule } from './command.js';
import { commands, groups as groupSummaries, type CommandEntry } from './commands/index.js';
import { CliError, ExitCode } from './errors.js';
import { createOutput, type OutputStreams } from './output.js';

export interface MainOptions {
  streams?: OutputStreams;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stopSignal?: AbortSignal;
}

/** An error from any layer that names its own code (and optionally its exit status). */
interface CodedError extends Error {
  code: string;
  exitCode?: number;
  details?: readonly string[];
}

function isCodedError(error: unknown): error is CodedError {
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^E[A-Z_]+$/.test(code);
}

/** Finds the table entry the command line names, by the leading non-option words. */
function matchEntry(argv: readonly string[]): CommandEntry | undefined {
  const words = argv.filter((arg) => !arg.startsWith('-'));
  return commands.find((entry) => entry.path.every((word, index) => words[index] === word));
}

export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const streams = options.streams ?? process;
  const debug = argv.includes('--debug');
  const out = createOutput(streams, { debug });
  let stopSignal = options.stopSignal;
  const context: CommandContext = {
    out,
    debug,
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
    // Created on first use: only long-running commands should change how signals end the process.
    get stopSignal() {
      stopSignal ??= stopSignalFromProcess();
      return stopSignal;
    },
  };

  const program = new Command('felhom')
    .description('Felhom infrastructure: box specs, plans, signed envelopes and the box agent')
    .option('--debug', 'print stack traces and engine diagnostics')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void streams.stdout.write(text),
      writeErr: (text) => void streams.stderr.write(text),
    })
    .showHelpAfterError(false);

  let exitCode: number = ExitCode.ok;
  const selected = matchEntry(argv);
  const groups = new Map<string, Command>();
  for (const entry of commands) {
    let parent = program;
    for (const [depth, word] of entry.path.slice(0, -1).entries()) {
      const key = entry.path.slice(0, depth + 1).join(' ');
      let group = groups.get(key);
      if (!group) {
        group = parent.command(word).description(groupSummaries[key] ?? `${word} commands`).exitOverride();
        groups.set(key, group);
      }
      parent = group;
    }
    const command = parent.command(entry.path.at(-1)!).description(entry.summary).exitOverride();
    if (entry !== selected) continue;
    const module: CommandModule = (await entry.load()).default;
    command.description(module.description);
    module.configure(command);
    command.action(async (...actionArgs: unknown[]) => {
      const commandObject = actionArgs.at(-1) as Command;
      const opts = commandObject.opts();
      const positional = actionArgs.slice(0, -2) as string[];
      exitCode = (await module.run(context, positional, opts)) ?? ExitCode.ok;
    });
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    return report(error, out, debug);
  }
}

function report(error: unknown, out: ReturnType<typeof createOutput>, debug: boolean): number {
  if (error instanceof CommanderError) {
    // --help and --version end here with exit code 0; everything else is a usage error.
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (error instanceof CliError || isCodedError(error)) {
    out.warn(`felhom: ${error.code}: ${error.message}`);
    for (const line of (error as CodedError).details ?? []) out.warn(`  ${line}`);
    if (debug && error.stack) out.warn(error.stack);
    return error instanceof CliError ? error.exitCode : ((error as CodedError).exitCode ?? ExitCode.invalid);
  }
  const message = error instanceof Error ? error.message : String(error);
  out.warn(`felhom: EINTERNAL: ${message}`);
  if (debug && error instanceof Error && error.stack) out.warn(error.stack);
  else out.warn('  (run again with --debug for the stack trace)');
  return ExitCode.failure;
}

function stopSignalFromProcess(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort(new Error('stopped by signal'));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return controller.signal;
}
