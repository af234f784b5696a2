/** `felhom hub operator remove`: removes an operator account; its token stops working at once. */
import type { CommandModule } from '../command.js';
import { operatorClient } from '../../runner/hub/operator.js';

const command: CommandModule = {
  description: "remove an operator account at the hub; the operator's token stops working",
  configure(command) {
    command
      .requiredOption('--name <name>', 'the operator to remove')
      .option('--hub <url>', 'hub URL (default: $FELHOM_HUB_URL)')
      .option('--token <token>', "the hub's bootstrap operator token (default: $FELHOM_HUB_OPERATOR_TOKEN)");
  },
  async run(context, _args, options) {
    await operatorClient(options, context.env).removeOperator(options.name as string);
    context.out.line(`operator ${options.name as string} removed; their token no longer works`);
  },
};
export default command;
