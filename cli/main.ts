/**
 * Entry point of the `felhom` command: builds the commander program from the command table,
 * loads only the invoked command's module, and turns errors into one line and an exit status.
 */
import { Command, CommanderError } from 'commander';
import type { CommandContext, CommandModule } from './command.js';
import { commands, groups as groupSummaries, type CommandEntry } from './commands/index.js';
import { describeFailure, ExitCode, failureDocument, type Failure } from './errors.js';
import { createOutput, type OutputStreams } from './output.js';
import { felhomVersion } from './version.js';

export interface MainOptions {
  streams?: OutputStreams;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stopSignal?: AbortSignal;
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
  const program = new Command('felhom')
    .description('Felhom infrastructure: box specs, plans, signed envelopes and the box agent')
    .version(felhomVersion(), '-V, --version', 'print the felhom version')
    .option('--debug', 'print stack traces and engine diagnostics')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void streams.stdout.write(text),
      writeErr: (text) => void streams.stderr.write(text),
      // commander's errors are reported in the command's own form (report below).
      outputError: () => undefined,
    })
    .showHelpAfterError(false);

  let stopSignal = options.stopSignal;
  const context: CommandContext = {
    out,
    debug,
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
    program,
    // Created on first use: only long-running commands should change how signals end the process.
    get stopSignal() {
      stopSignal ??= stopSignalFromProcess();
      return stopSignal;
    },
  };

  let exitCode: number = ExitCode.ok;
  const selected = matchEntry(argv);
  const wholeTree = selected?.path[0] === 'completion';
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
    // `felhom completion` reads every command's options; everything else loads only its own module.
    if (entry !== selected && !wholeTree) continue;
    const module: CommandModule = (await entry.load()).default;
    command.description(module.description);
    module.configure(command);
    if (entry !== selected) continue;
    command.action(async (...actionArgs: unknown[]) => {
      const commandObject = actionArgs.at(-1) as Command;
      const opts = commandObject.opts();
      // A variadic last argument (`<envelopes...>`) arrives as an array: its words join the list.
      const positional = (actionArgs.slice(0, -2) as (string | string[])[]).flat();
      exitCode = (await module.run(context, positional, opts)) ?? ExitCode.ok;
    });
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    return report(error, out, { debug, json: argv.includes('--json') });
  }
}

function report(error: unknown, out: ReturnType<typeof createOutput>, options: { debug: boolean; json: boolean }): number {
  if (error instanceof CommanderError && error.exitCode === 0) return ExitCode.ok; // --help, --version
  const failure = error instanceof CommanderError ? usageFailure(error) : describeFailure(error);
  const hint = failure.code === 'EINTERNAL' && !options.debug ? ' (run again with --debug for the stack trace)' : '';
  out.warn(`felhom: ${failure.code}: ${failure.message}${hint}`);
  for (const line of failure.details) out.warn(`  ${line}`);
  if (options.debug && error instanceof Error && error.stack && !(error instanceof CommanderError)) out.warn(error.stack);
  if (options.json) out.json(failureDocument(failure));
  return failure.exitCode;
}

/** commander's own errors ("error: unknown option '--x'") in the command's form: EUSAGE, exit 2. */
function usageFailure(error: CommanderError): Failure {
  // A group named without its command (`felhom keys`) has printed its help on stderr already.
  const message = error.code === 'commander.help' ? 'a command is missing; the help above lists them' : error.message.replace(/^error: /, '');
  return { code: 'EUSAGE', message, exitCode: ExitCode.usage, details: [] };
}

function stopSignalFromProcess(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort(new Error('stopped by signal'));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return controller.signal;
}
