import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createTrustStore, pinningProblem, readPublicKey, writeTrustStore } from '../../runner/envelope/index.js';
import type { CommandModule } from '../command.js';
import { CliError } from '../errors.js';
import { renamedOption } from '../flags.js';
import { collect, positiveInteger, readInputFile } from './envelope-io.js';

/**
 * `felhom trust init --public-key <pub.asc> [--public-key ...] [--threshold n] --out <file>`: the trust store
 * a box pins at enrollment. After that only a signed rotate-keys envelope changes it. A key that
 * is expired, revoked or weak (RSA under 2048 bits, SHA-1 self-signatures) is refused with the reason.
 */
const trustInit: CommandModule = {
  description: 'create a box trust store pinning operator public keys and a signature threshold',
  configure(command: Command) {
    command
      .requiredOption('--public-key <pub.asc>', 'an operator public key (repeat for more)', collect)
      .option('--threshold <n>', 'how many distinct keys must sign each envelope', '1')
      .requiredOption('--out <file>', 'the trust store file to create')
      .option('--force', 'replace an existing trust store')
      .option('--json', 'print the pinned fingerprints as JSON');
    renamedOption(command, '--key <pub.asc>', '--public-key');
  },
  async run(context, _args, options) {
    const threshold = positiveInteger(options.threshold, '--threshold');
    const armored = [];
    for (const path of options.publicKey as string[]) {
      const text = await readInputFile(context, path, 'public key');
      // A pinned key signs for years: refuse now what every envelope would be refused for later.
      const problem = await pinningProblem(await readPublicKey(text, path), new Date());
      if (problem) throw new CliError(problem.code, `${path}: ${problem.message}; it cannot be pinned`);
      armored.push(text);
    }
    const store = await createTrustStore(armored, threshold);
    const out = resolve(context.cwd, options.out as string);
    // Replacing a pinned store bypasses rotation: only on purpose.
    if (!options.force && (await access(out).then(() => true, () => false))) {
      throw new CliError('EEXIST', `${options.out} already exists; a pinned trust store changes through a rotate-keys envelope (or pass --force)`);
    }
    await writeTrustStore(out, store);
    const fingerprints = store.keys.map((key) => key.fingerprint);
    if (options.json) context.out.json({ trustStore: out, threshold: store.threshold, fingerprints });
    else {
      context.out.line(`${options.out}: ${fingerprints.length} key${fingerprints.length === 1 ? '' : 's'}, threshold ${store.threshold}`);
      for (const key of store.keys) context.out.line(`  ${key.fingerprint}  ${key.userIds.join(', ')}`);
    }
  },
};

export default trustInit;
