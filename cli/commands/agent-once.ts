/**
 * `felhom agent once`: one agent cycle (fetch → verify → journal → apply → report → audit),
 * then exit; envelopes waiting on a box-side fix are retried at once, whatever their backoff. Exit 0 when the cycle ended cleanly and every envelope in it succeeded (or there
 * was nothing to do), 1 when an envelope was refused or failed, or the cycle stalled on something
 * a person must fix, 3 when it must be retried later (hub down, lock held). An operator or a
 * script running it by hand learns from the status that their envelope did not apply.
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
      // A person (or their script) runs it: envelopes waiting on a box-side fix are tried now.
      const result = await agent.cycle({ retryNow: true });
      if (options.json) context.out.json(result);
      else {
        context.out.line(`cycle ${result.status}: ${result.items.length} envelope(s), ${result.engineRuns} engine operation(s)`);
        for (const item of result.items) {
          context.out.line(`  serial ${item.serial} ${item.action}: ${item.outcome}${item.reason ? ` (${item.reason.code}: ${item.reason.message})` : ''}`);
        }
        if (result.error) context.out.line(`stopped at ${result.error.step}: ${result.error.code} (${result.error.kind}): ${result.error.message}`);
      }
      if (result.status === 'waiting' || result.status === 'failed') return 3;
      const refusedOrFailed = result.items.some((item) => item.outcome === 'failed' || item.outcome === 'rejected');
      return result.status === 'stalled' || refusedOrFailed ? 1 : 0;
    } finally {
      await agent.close();
    }
  },
};
export default command;
