/** `felhom hub reports`: lists what boxes reported to the hub, newest first. */
import type { CommandModule } from '../command.js';
import { usageError } from '../errors.js';
import { operatorClient } from '../../runner/hub/operator.js';
import type { Report } from '../../runner/hub/protocol.js';

function formatReport(report: Report): string {
  const parts = [report.receivedAt, `${report.box}/${report.tier}`, report.outcome.padEnd(9), `sha256 ${report.jobId.slice(0, 12)}`];
  if (report.serial !== undefined) parts.push(`serial ${report.serial}`);
  if (report.engine) parts.push(`+${report.engine.created} ~${report.engine.updated} -${report.engine.deleted} =${report.engine.same}`);
  if (report.durationMs !== undefined) parts.push(`${(report.durationMs / 1000).toFixed(1)}s`);
  if (report.reason) parts.push(`${report.reason.code}: ${report.reason.message}`);
  return parts.join('  ');
}

const command: CommandModule = {
  description: 'list the reports boxes sent to the hub, newest first',
  configure(command) {
    command
      .option('--box <id>', 'only this box')
      .option('--limit <n>', 'at most this many reports', '50')
      .option('--hub <url>', 'hub URL (default: $FELHOM_HUB_URL)')
      .option('--token <token>', 'operator token (default: $FELHOM_HUB_OPERATOR_TOKEN)')
      .option('--json', 'print the reports as JSON');
  },
  async run(context, _args, options) {
    const limit = Number(options.limit);
    if (!Number.isSafeInteger(limit) || limit < 1) throw usageError(`--limit: expected a positive whole number, got ${String(options.limit)}`);
    const reports = await operatorClient(options, context.env).listReports({ ...(options.box ? { box: options.box as string } : {}), limit });
    if (options.json) {
      context.out.json({ reports });
      return;
    }
    if (reports.length === 0) context.out.line('no reports');
    for (const report of reports) context.out.line(formatReport(report));
  },
};
export default command;
