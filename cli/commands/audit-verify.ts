/**
 * `felhom audit verify`: re-derives the audit log's hash chain; exit 0 intact, 1 naming the
 * broken entry. With `--hub <url>` it also compares the log with the hub's copy, the anchor a
 * valid chain on the box cannot replace: entries cut from the end and re-grown are found there
 * (EAUDIT_CONFLICT, docs/runbook.md).
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandContext, CommandModule } from '../command.js';
import { CliError, ExitCode, usageError } from '../errors.js';
import { AuditLog, describeProblem, verifyAuditLog, type AuditEntry } from '../../runner/state/audit.js';
import { divergenceFromHub } from '../../runner/state/audit-anchor.js';
import { operatorClient } from '../../runner/hub/operator.js';

/** The log file named by --file, or the one inside --state; it must exist. */
export async function auditFileFrom(context: CommandContext, options: Record<string, unknown>): Promise<string> {
  if (options.state && options.file) throw usageError('pass either --state or --file, not both');
  if (!options.state && !options.file) throw usageError('which audit log? pass --state <dir> or --file <path>');
  const file = options.file ? resolve(context.cwd, options.file as string) : AuditLog.fileIn(resolve(context.cwd, options.state as string));
  try {
    await stat(file);
  } catch (error) {
    throw new CliError('ENOENT', `no audit log at ${file}`, { fault: 'environment', cause: error });
  }
  return file;
}

const command: CommandModule = {
  description: 'verify the hash chain of an audit log (exit 0 intact, 1 broken)',
  configure(command) {
    command
      .option('--state <dir>', 'the agent state directory')
      .option('--file <path>', 'an audit log file')
      .option('--hub <url>', "also compare with the hub's copy of the box's log (default: $FELHOM_HUB_URL when --box is given)")
      .option('--box <id>', "the box whose copy to compare with (default: the box the log's entries name)")
      .option('--token <token>', 'operator token for --hub (default: $FELHOM_HUB_OPERATOR_TOKEN)')
      .option('--json', 'print { ok, file, entries, head, problems, hub? } as JSON');
  },
  async run(context, _args, options) {
    const file = await auditFileFrom(context, options);
    const result = await verifyAuditLog(file);
    const hub = options.hub || options.box ? await compareWithHub(context, options, result.entries) : undefined;
    const ok = result.ok && !hub?.conflict;
    if (options.json) {
      context.out.json({ ok, file, entries: result.entries.length, head: result.head, problems: result.problems, ...(hub ? { hub: { box: hub.box, entries: hub.entries, conflict: hub.conflict ? { seq: hub.conflict.seq, message: hub.conflict.message } : null } } : {}) });
      return ok ? ExitCode.ok : ExitCode.invalid;
    }
    if (!result.ok) {
      throw new CliError('EAUDIT_BROKEN', `audit log ${file} is broken at ${describeProblem(result.problems[0]!)}`, {
        details: result.problems.map(describeProblem),
      });
    }
    if (hub?.conflict) throw new CliError('EAUDIT_CONFLICT', `audit log ${file} is intact on its own but diverges from the hub's copy at seq ${hub.conflict.seq}: ${hub.conflict.message}`);
    const head = result.head ? `; head seq ${result.head.seq} hash ${result.head.hash}` : '';
    const anchored = hub ? `; it holds the hub's ${hub.entries} entries for ${hub.box} unchanged` : '';
    context.out.line(`audit log ${file} is intact: ${result.entries.length} entries${head}${anchored}`);
  },
};

/** The hub's copy of the box's log, compared entry by entry with the local one. */
async function compareWithHub(context: CommandContext, options: Record<string, unknown>, local: readonly AuditEntry[]) {
  const box = (options.box as string | undefined) ?? local[0]?.box;
  if (!box) throw usageError('the log is empty: pass --box <id> to compare it with the hub');
  const client = operatorClient(options, context.env);
  const held = await client.listAudit(box);
  return { box, entries: held.length, conflict: divergenceFromHub(local, held) };
}
export default command;
