import type { Command } from 'commander';
import { encryptSecret, readPublicKey } from '../../runner/envelope/index.js';
import type { CommandModule } from '../command.js';
import { usageError } from '../errors.js';
import { readInputFile } from './envelope-io.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `felhom secrets encrypt --to <agent.pub.asc> [--from-env VAR]`: encrypts a secret (from the
 * variable, else standard input) to a box's agent key and prints the armoured message a spec
 * embeds as `{ encrypted: ... }`. The value is never an argument: arguments are visible in `ps`.
 */
const secretsEncrypt: CommandModule = {
  description: 'encrypt a secret to a box agent key for a box spec',
  configure(command: Command) {
    command
      .requiredOption('--to <agent.pub.asc>', 'the box agent\'s public key')
      .option('--from-env <VAR>', 'read the secret from this environment variable (default: standard input)')
      .option('--json', 'print the spec SecretRef { "encrypted": ... } as JSON');
  },
  async run(context, _args, options) {
    const agentKey = await readPublicKey(await readInputFile(context, options.to as string, 'agent key'), options.to as string);
    let secret: string;
    if (options.fromEnv !== undefined) {
      const value = context.env[options.fromEnv as string];
      if (value === undefined || value === '') throw usageError(`--from-env: the variable ${options.fromEnv as string} is not set or empty`);
      secret = value;
    } else {
      if (process.stdin.isTTY) context.out.warn('reading the secret from standard input; end it with Ctrl-D');
      // `echo secret | felhom secrets encrypt` adds a newline the secret does not have.
      secret = (await readStdin()).replace(/\r?\n$/, '');
      if (secret === '') throw usageError('the secret on standard input is empty');
    }
    const encrypted = await encryptSecret(secret, agentKey);
    if (options.json) context.out.json({ encrypted });
    else context.out.line(encrypted.trimEnd());
  },
};

export default secretsEncrypt;
