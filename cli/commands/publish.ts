/** `felhom publish`: sends a signed envelope file to the hub, byte for byte. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandModule } from '../command.js';
import { CliError, ExitCode } from '../errors.js';
import { operatorClient } from '../../runner/hub/operator.js';

const command: CommandModule = {
  description: 'publish a signed envelope (spec or job) to the hub',
  configure(command) {
    command
      .argument('<envelope>', 'the envelope file (JSON { payload, signatures })')
      .option('--hub <url>', 'hub URL (default: $FELHOM_HUB_URL)')
      .option('--token <token>', 'operator token (default: $FELHOM_HUB_OPERATOR_TOKEN)')
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
    // One sha256 names an envelope everywhere (sign, verify, reports, audit, jobs): its payload
    // digest. The hub's digest of the file bytes is only its ETag, and is printed as that.
    const answer = { box: published.box, tier: published.tier, type: published.type, serial: published.serial, digest: published.payloadDigest, etag: published.digest };
    if (options.json) context.out.json(answer);
    else context.out.line(`published ${answer.type} serial ${answer.serial} for ${answer.box}/${answer.tier} (sha256 ${answer.digest})`);
  },
};
export default command;
