/** `felhom hub operator add`: adds an operator account and prints its token, once. */
import type { CommandModule } from '../command.js';
import { operatorClient } from '../../runner/hub/operator.js';

const command: CommandModule = {
  description: "add an operator account at the hub and print the operator's token (shown once)",
  configure(command) {
    command
      .requiredOption('--name <name>', 'the operator name recorded with everything they publish and enroll')
      .option('--hub <url>', 'hub URL (default: $FELHOM_HUB_URL)')
      .option('--token <token>', "the hub's bootstrap operator token (default: $FELHOM_HUB_OPERATOR_TOKEN)")
      .option('--json', 'print { name, token, createdAt } as JSON');
  },
  async run(context, _args, options) {
    const created = await operatorClient(options, context.env).addOperator(options.name as string);
    if (options.json) {
      context.out.json(created);
      return;
    }
    context.out.line(`operator ${created.name} added at ${created.createdAt}`);
    context.out.line('their token follows; the hub keeps only a hash and cannot show it again. Hand it over now:');
    context.out.line(created.token);
  },
};
export default command;
