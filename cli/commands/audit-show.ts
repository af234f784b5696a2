/** `felhom audit show`: prints a box's audit log, oldest entry first. */
import type { CommandModule } from '../command.js';
import { AUDIT_FILE, describeProblem, verifyAuditLog, type AuditEntry } from '../../runner/state/audit.js';
import { auditFileFrom } from './audit-verify.js';

function formatEntry(entry: AuditEntry): string {
  const parts = [String(entry.seq).padStart(5), entry.time, `${entry.box}/${entry.tier}`, entry.action, entry.outcome, `by ${entry.actor}`];
  if (entry.envelopeDigest) parts.push(`sha256 ${entry.envelopeDigest.slice(0, 12)}`);
  if (entry.reason) parts.push(`${entry.reason.code}: ${entry.reason.message}`);
  return parts.join('  ');
}

const command: CommandModule = {
  description: 'print the audit log of a box (every operator-initiated action)',
  configure(command) {
    command
      .option('--state <dir>', `the agent state directory (reads <dir>/${AUDIT_FILE})`)
      .option('--file <path>', 'an audit log file')
      .option('--json', 'print { file, entries, problems } as JSON');
  },
  async run(context, _args, options) {
    const file = await auditFileFrom(context, options);
    const result = await verifyAuditLog(file);
    if (options.json) {
      context.out.json({ file, entries: result.entries, problems: result.problems });
      return;
    }
    if (result.entries.length === 0) context.out.line('the audit log is empty');
    for (const entry of result.entries) context.out.line(formatEntry(entry));
    if (!result.ok) {
      context.out.warn(`warning: ${file} does not verify; run felhom audit verify:`);
      for (const problem of result.problems) context.out.warn(`  ${describeProblem(problem)}`);
    }
  },
};
export default command;
