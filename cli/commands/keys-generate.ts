import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { generateKey } from '../../runner/envelope/index.js';
import { readPassphrase } from '../../runner/envelope/passphrase.js';
import type { CommandModule } from '../command.js';
import { CliError, ExitCode } from '../errors.js';
import { renamedOption } from '../flags.js';

/** A file-name-safe form of the key's name: "Alice Operator" → "alice-operator". */
function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'key';
}

/**
 * `felhom keys generate --name <n> --email <e> --out-dir <dir>`: an operator (or box agent) key:
 * `<name>.pub.asc`, the passphrase-protected `<name>.key.asc` and a revocation certificate.
 */
const keysGenerate: CommandModule = {
  description: 'generate an OpenPGP operator or agent key (ed25519 signing, curve25519 encryption)',
  configure(command: Command) {
    command
      .requiredOption('--name <name>', 'the key owner\'s name')
      .requiredOption('--email <email>', 'the key owner\'s email address')
      .requiredOption('--out-dir <dir>', 'directory for the key files (created if missing)')
      .option('--json', 'print the fingerprint and file paths as JSON');
    renamedOption(command, '--out <dir>', '--out-dir');
  },
  async run(context, _args, options) {
    const name = options.name as string;
    const email = options.email as string;
    const passphrase = await readPassphrase({ env: context.env }, `the new key of ${name} <${email}>`, { confirm: true });
    const key = await generateKey({ name, email, passphrase });
    const directory = resolve(context.cwd, options.outDir as string);
    await mkdir(directory, { recursive: true });
    const base = join(directory, slug(name));
    const paths = { publicKey: `${base}.pub.asc`, privateKey: `${base}.key.asc`, revocationCertificate: `${base}.rev.asc` };
    // Never overwrite: losing an operator's private key silently is worse than a refusal.
    try {
      await writeFile(paths.privateKey, key.privateKey, { flag: 'wx', mode: 0o600 });
      await writeFile(paths.revocationCertificate, key.revocationCertificate, { flag: 'wx', mode: 0o600 });
      await writeFile(paths.publicKey, key.publicKey, { flag: 'wx', mode: 0o644 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new CliError('EEXIST', `a key named ${slug(name)} already exists in ${directory}; choose another --name or --out-dir`, { cause: error });
      throw new CliError('EWRITE', `cannot write the key files in ${directory}: ${code ?? (error as Error).message}`, { fault: 'environment', cause: error });
    }
    if (options.json) {
      context.out.json({ fingerprint: key.fingerprint, ...paths });
    } else {
      context.out.line(key.fingerprint);
      context.out.line(`public key:  ${paths.publicKey}`);
      context.out.line(`private key: ${paths.privateKey} (passphrase-protected)`);
      context.out.line(`revocation:  ${paths.revocationCertificate}`);
    }
    return ExitCode.ok;
  },
};

export default keysGenerate;
