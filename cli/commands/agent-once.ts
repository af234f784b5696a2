/**
 * `felhom agent once`: one agent cycle (fetch → verify → journal → apply → report → audit),
 * then exit. Exit 0 when the cycle ended cleanly (an envelope may still have been refused: see
 * the items), 1 when it stalled on something a person must fix, 3 when it must be retried later.
 */
import type { Command } from 'commander';
import type { CommandContext, CommandModule } from '../command.js';
import { agentOptions, openCliAgent } from './agent-run.js';

const command: CommandModule = {
  description: 'run one agent cycle against the hub and exit (docs/agent.md)',
  configure(command: Command) {
    agentOptions(command).option('--json', 'print the cycle result as JSON');
  },
  async run(context: CommandContext, _args, options) {
    const { agent } = await openCliAgent(context, options);
    try {
      const result = await agent.cycle();
      if (options.json) context.out.json(result);
      else {
        context.out.line(`cycle ${result.status}: ${result.items.length} envelope(s), ${result.engineRuns} engine operation(s)`);
        for (const item of result.items) {
          context.out.line(`  serial ${item.serial} ${item.action}: ${item.outcome}${item.reason ? ` (${item.reason.code}: ${item.reason.message})` : ''}`);
        }
        if (result.error) context.out.line(`stopped at ${result.error.step}: ${result.error.code} (${result.error.kind}): ${result.error.message}`);
      }
      return result.status === 'stalled' ? 1 : result.status === 'waiting' || result.status === 'failed' ? 3 : 0;
    } finally {
      await agent.close();
    }
  },
};
export default command;
