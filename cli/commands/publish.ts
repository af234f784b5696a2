/** `felhom publish`: sends a signed envelope file to the hub, byte for byte. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandModule } from '../command.js';
import { hubOperatorOptions } from '../flags.js';
import { CliError, ExitCode } from '../errors.js';
import { operatorClient } from '../../runner/hub/operator.js';

const command: CommandModule = {
  description: 'publish a signed envelope (spec or job) to the hub',
  configure(command) {
    hubOperatorOptions(command)
      .argument('<envelope>', 'the envelope file (JSON { payload, signatures })')
      .option('--json', 'print the hub answer as JSON');
  },
  async run(context, args, options) {
    const client = operatorClient(options, context.env);
    const file = resolve(context.cwd, args[0]!);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new CliError('EREAD', `cannot read envelope ${file}: ${(error as Error).message}`, { exitCode: ExitCode.failure, cause: error });
    }
    const published = await client.publish(bytes);
    if (options.json) context.out.json(published);
    else context.out.line(`published ${published.type} serial ${published.serial} for ${published.box}/${published.tier} (sha256 ${published.digest})`);
  },
};
export default command;
