/** `felhom audit verify`: re-derives the audit log's hash chain; exit 0 intact, 1 naming the broken entry. */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandContext, CommandModule } from '../command.js';
import { CliError, ExitCode, usageError } from '../errors.js';
import { AuditLog, describeProblem, verifyAuditLog } from '../../runner/state/audit.js';

/** The log file named by --file, or the one inside --state; it must exist. */
export async function auditFileFrom(context: CommandContext, options: Record<string, unknown>): Promise<string> {
  if (options.state && options.file) throw usageError('pass either --state or --file, not both');
  if (!options.state && !options.file) throw usageError('which audit log? pass --state <dir> or --file <path>');
  const file = options.file ? resolve(context.cwd, options.file as string) : AuditLog.fileIn(resolve(context.cwd, options.state as string));
  try {
    await stat(file);
  } catch (error) {
    throw new CliError('ENOENT', `no audit log at ${file}`, { exitCode: ExitCode.failure, cause: error });
  }
  return file;
}

const command: CommandModule = {
  description: 'verify the hash chain of an audit log (exit 0 intact, 1 broken)',
  configure(command) {
    command
      .option('--state <dir>', 'the agent state directory')
      .option('--file <path>', 'an audit log file')
      .option('--json', 'print { ok, file, entries, head, problems } as JSON');
  },
  async run(context, _args, options) {
    const file = await auditFileFrom(context, options);
    const result = await verifyAuditLog(file);
    if (options.json) {
      context.out.json({ ok: result.ok, file, entries: result.entries.length, head: result.head, problems: result.problems });
      return result.ok ? ExitCode.ok : ExitCode.invalid;
    }
    if (!result.ok) {
      throw new CliError('EAUDIT_BROKEN', `audit log ${file} is broken at ${describeProblem(result.problems[0]!)}`, {
        details: result.problems.map(describeProblem),
      });
    }
    const head = result.head ? `; head seq ${result.head.seq} hash ${result.head.hash}` : '';
    context.out.line(`audit log ${file} is intact: ${result.entries.length} entries${head}`);
  },
};
export default command;
