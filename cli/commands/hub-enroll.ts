/** `felhom hub enroll`: enrolls a box at the hub and prints its API key, once. */
import type { CommandModule } from '../command.js';
import { operatorClient } from '../../runner/hub/operator.js';

const command: CommandModule = {
  description: "enroll a box at the hub and print the box's API key (shown once)",
  configure(command) {
    command
      .requiredOption('--box <id>', 'the box id')
      .option('--hub <url>', 'hub URL (default: $FELHOM_HUB_URL)')
      .option('--token <token>', 'operator token (default: $FELHOM_HUB_OPERATOR_TOKEN)')
      .option('--json', 'print { box, apiKey, enrolledAt } as JSON');
  },
  async run(context, _args, options) {
    const enrolled = await operatorClient(options, context.env).enrollBox(options.box as string);
    if (options.json) {
      context.out.json(enrolled);
      return;
    }
    context.out.line(`box ${enrolled.box} enrolled at ${enrolled.enrolledAt}`);
    context.out.line("its API key follows; the hub keeps only a hash and cannot show it again. Put it in the box agent's configuration now:");
    context.out.line(enrolled.apiKey);
  },
};
export default command;
