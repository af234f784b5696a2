/**
 * `felhom hub enroll`: enrolls a box at the hub and prints its API key, once; with `--rotate`,
 * issues an enrolled box a new key (the old one lost or leaked) and the old one stops working.
 */
import type { CommandModule } from '../command.js';
import { hubOperatorOptions } from '../flags.js';
import { operatorClient } from '../../runner/hub/operator.js';

const command: CommandModule = {
  description: "enroll a box at the hub and print the box's API key (shown once)",
  configure(command) {
    hubOperatorOptions(command)
      .requiredOption('--box <id>', 'the box id')
      .option('--rotate', 'issue an enrolled box a new API key; the old key stops working')
      .option('--json', 'print { box, apiKey, enrolledAt } as JSON');
  },
  async run(context, _args, options) {
    const client = operatorClient(options, context.env);
    const enrolled = options.rotate ? await client.rotateBoxKey(options.box as string) : await client.enrollBox(options.box as string);
    if (options.json) {
      context.out.json(enrolled);
      return;
    }
    if ('keyRotatedAt' in enrolled) context.out.line(`box ${enrolled.box}: new API key issued at ${enrolled.keyRotatedAt}; the old key no longer works`);
    else context.out.line(`box ${enrolled.box} enrolled at ${enrolled.enrolledAt}`);
    context.out.line("its API key follows; the hub keeps only a hash and cannot show it again. Put it in the box agent's configuration now:");
    context.out.line(enrolled.apiKey);
  },
};
export default command;
