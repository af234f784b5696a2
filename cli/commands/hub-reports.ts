/** `felhom hub reports`: lists what boxes reported to the hub, newest first: what changed and why it failed. */
import type { CommandModule } from '../command.js';
import { hubOperatorOptions } from '../flags.js';
import { usageError } from '../errors.js';
import { operatorClient } from '../../runner/hub/operator.js';
import { reportLines } from '../reports.js';

const command: CommandModule = {
  description: 'list the reports boxes sent to the hub, newest first',
  configure(command) {
    hubOperatorOptions(command)
      .option('--box <id>', 'only this box')
      .option('--limit <n>', 'at most this many reports', '50')
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
    for (const report of reports) for (const line of reportLines(report)) context.out.line(line);
  },
};
export default command;
