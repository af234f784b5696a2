/**
 * `felhom publish <envelope...>`: sends signed envelope files to the hub, byte for byte, in the
 * order given (a spec before the restore job that follows it). It stops at the first refusal:
 * what was published stays published, and the line says which files were not sent.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandModule } from '../command.js';
import { hubOperatorOptions } from '../flags.js';
import { CliError } from '../errors.js';
import { operatorClient } from '../../runner/hub/operator.js';
import type { PublishResponse } from '../../runner/hub/protocol.js';

const command: CommandModule = {
  description: 'publish signed envelopes (specs or jobs) to the hub, in the order given',
  configure(command) {
    hubOperatorOptions(command)
      .argument('<envelopes...>', 'the envelope files (JSON { payload, signatures })')
      .option('--json', 'print the hub answer as JSON (an array when several)');
  },
  async run(context, files, options) {
    const client = operatorClient(options, context.env);
    const envelopes: Buffer[] = [];
    // Every file is read before the first is sent: a typo in the last name publishes nothing.
    for (const name of files) {
      const file = resolve(context.cwd, name);
      try {
        envelopes.push(await readFile(file));
      } catch (error) {
        throw new CliError('EREAD', `cannot read envelope ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { fault: 'environment', cause: error });
      }
    }
    // One sha256 names an envelope everywhere (sign, verify, reports, audit, jobs): its payload
    // digest. The hub's digest of the file bytes is only its ETag, and is printed as that.
    const published: { box: string; tier: string; type: string; serial: number; digest: string; etag: string }[] = [];
    for (const [index, bytes] of envelopes.entries()) {
      let answer: PublishResponse;
      try {
        answer = await client.publish(bytes);
      } catch (error) {
        if (index > 0 && error instanceof Error) {
          const rest = files.slice(index);
          error.message = `${files[index]}: ${error.message} (published: ${files.slice(0, index).join(', ')}; not sent: ${rest.join(', ')})`;
        }
        throw error;
      }
      const entry = { box: answer.box, tier: answer.tier, type: answer.type, serial: answer.serial, digest: answer.payloadDigest, etag: answer.digest };
      published.push(entry);
      if (!options.json) context.out.line(`published ${entry.type} serial ${entry.serial} for ${entry.box}/${entry.tier} (sha256 ${entry.digest})`);
    }
    if (options.json) context.out.json(published.length === 1 ? published[0] : published);
  },
};
export default command;
