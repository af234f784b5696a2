/** `felhom hub activity`: who published, enrolled, rotated and added what, newest first. */
import type { CommandModule } from '../command.js';
import { usageError } from '../errors.js';
import { operatorClient } from '../../runner/hub/operator.js';
import type { OperatorActivity } from '../../runner/hub/protocol.js';

function formatActivity(entry: OperatorActivity): string {
  const parts = [entry.at, entry.operator.padEnd(12), entry.action.padEnd(15), entry.tier ? `${entry.subject}/${entry.tier}` : entry.subject];
  if (entry.serial !== undefined) parts.push(`serial ${entry.serial}`);
  if (entry.digest) parts.push(`envelope ${entry.digest.slice(0, 12)}`);
  return parts.join('  ');
}

const command: CommandModule = {
  description: 'list what operators did at the hub (publish, enroll, key rotation, operator accounts), newest first',
  configure(command) {
    command
      .option('--limit <n>', 'at most this many entries', '50')
      .option('--hub <url>', 'hub URL (default: $FELHOM_HUB_URL)')
      .option('--token <token>', 'operator token (default: $FELHOM_HUB_OPERATOR_TOKEN)')
      .option('--json', 'print { activity } as JSON');
  },
  async run(context, _args, options) {
    const limit = Number(options.limit);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 99_999) throw usageError(`--limit: expected a whole number from 1 to 99999, got ${String(options.limit)}`);
    const client = operatorClient(options, context.env);
    const [activity, operators] = await Promise.all([client.listActivity({ limit }), options.json ? client.listOperators() : Promise.resolve([])]);
    if (options.json) {
      context.out.json({ activity, operators });
      return;
    }
    if (activity.length === 0) context.out.line('no activity');
    for (const entry of activity) context.out.line(formatActivity(entry));
  },
};
export default command;
