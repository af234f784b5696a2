/** `felhom hub boxes`: the fleet view, failing boxes first. */
import type { CommandModule } from '../command.js';
import { operatorClient } from '../../runner/hub/operator.js';
import type { BoxStatus } from '../../runner/hub/protocol.js';

/** "3m ago" style age of a time, from `now`. */
export function age(at: string | null, now = Date.now()): string {
  if (at === null) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(at)) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86_400)}d ago`;
}

function formatBox(box: BoxStatus, now: number): string[] {
  const head = [box.box.padEnd(20), box.state.padEnd(8), `contact ${age(box.lastContactAt, now)}`];
  if (box.pendingJobs > 0) head.push(`${box.pendingJobs} job${box.pendingJobs === 1 ? '' : 's'} pending`);
  const lines = [head.join('  ')];
  for (const tier of box.tiers) {
    const parts = [`  ${tier.tier.padEnd(6)}`, `spec ${tier.specSerial ?? '-'}`, `applied ${tier.appliedSerial ?? '-'}`, `last ${tier.lastOutcome ?? '-'}${tier.lastReportAt ? ` ${age(tier.lastReportAt, now)}` : ''}`];
    if (tier.drift) parts.push('drift');
    if (tier.pendingJobs > 0) parts.push(`${tier.pendingJobs} pending`);
    if (tier.reason) parts.push(`${tier.reason.code}: ${tier.reason.message}`);
    lines.push(parts.join('  '));
  }
  return lines;
}

const command: CommandModule = {
  description: "the fleet view: each box's last contact, applied serial and outcome per tier, pending jobs and drift, failing boxes first",
  configure(command) {
    command
      .option('--hub <url>', 'hub URL (default: $FELHOM_HUB_URL)')
      .option('--token <token>', 'operator token (default: $FELHOM_HUB_OPERATOR_TOKEN)')
      .option('--json', 'print { boxes } as JSON');
  },
  async run(context, _args, options) {
    const { boxes } = await operatorClient(options, context.env).listBoxes();
    if (options.json) {
      context.out.json({ boxes });
      return;
    }
    if (boxes.length === 0) context.out.line('no boxes enrolled');
    const now = Date.now();
    for (const box of boxes) for (const line of formatBox(box, now)) context.out.line(line);
  },
};
export default command;
