/**
 * `felhom controller once`: one in-guest controller cycle (pull the guest tier's spec, verify,
 * snapshot through the local API, deploy, health check, roll back when unhealthy, report), then
 * exit. Exit 0 when there was nothing new or the spec was applied and healthy; 1 when it was
 * refused or failed (rolled back `EHEALTH`, `EDEPLOY`, `ESNAPSHOT`, a missing plugin); 3 when the
 * cycle could not run (hub unreachable, lock held).
 */
import type { Command } from 'commander';
import type { CommandContext, CommandModule } from '../command.js';
import { controllerOptions, openCliController } from './controller-run.js';

const command: CommandModule = {
  description: 'run one in-guest controller cycle against the hub and exit (docs/agent.md)',
  configure(command: Command) {
    controllerOptions(command).option('--json', 'print the cycle result as JSON');
  },
  async run(context: CommandContext, _args, options) {
    const { controller } = await openCliController(context, options);
    try {
      const result = await controller.once();
      if (options.json) context.out.json(result);
      else if (result.status === 'idle') context.out.line('no new guest spec');
      else context.out.line(`guest spec${result.serial === null ? '' : ` serial ${result.serial}`} ${result.status}${result.reason ? ` (${result.reason.code}: ${result.reason.message})` : ''}`);
      return result.status === 'idle' || result.status === 'succeeded' ? 0 : 1;
    } finally {
      await controller.close();
    }
  },
};
export default command;
