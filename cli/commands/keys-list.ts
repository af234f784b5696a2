/**
 * `felhom keys list [path...]`: the OpenPGP keys in key files and folders (default `keys/`), as
 * `gpg --list-keys` shows a keyring: one line per key with `sec` when its private key is among
 * the files, else `pub`, its fingerprint, creation date, user ids and the files holding it.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import * as openpgp from 'openpgp';
import type { CommandModule } from '../command.js';
import { CliError } from '../errors.js';
import { fingerprintOf, keyIdOf } from '../../runner/envelope/keys.js';

export interface ListedKey {
  readonly fingerprint: string;
  readonly keyId: string;
  /** `sec` when a private key file is among the files, else `pub`. */
  readonly kind: 'sec' | 'pub';
  readonly algorithm: string;
  readonly created: string;
  readonly userIds: readonly string[];
  /** Whether the private key is passphrase-protected (null without one). */
  readonly protected: boolean | null;
  readonly files: readonly string[];
}

/** Every `*.asc` file under the given files and folders. */
async function keyFiles(cwd: string, paths: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  const visit = async (path: string, named: boolean): Promise<void> => {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      throw new CliError('EREAD', `cannot read ${relative(cwd, path) || path}: ${(error as NodeJS.ErrnoException).code ?? 'EIO'}`, { fault: 'environment', cause: error });
    }
    if (info.isDirectory()) {
      for (const entry of (await readdir(path)).sort()) await visit(join(path, entry), false);
    } else if (named || path.endsWith('.asc')) found.push(path);
  };
  for (const path of paths) await visit(resolve(cwd, path), true);
  return found;
}

export async function listKeys(cwd: string, paths: readonly string[]): Promise<ListedKey[]> {
  const keys = new Map<string, { key: openpgp.Key; private: openpgp.PrivateKey | null; files: string[] }>();
  for (const file of await keyFiles(cwd, paths)) {
    let key: openpgp.Key;
    try {
      key = await openpgp.readKey({ armoredKey: await readFile(file, 'utf8') });
    } catch {
      continue; // revocation certificates, messages, other armour: not a key
    }
    const fingerprint = fingerprintOf(key);
    const entry = keys.get(fingerprint) ?? { key, private: null, files: [] };
    if (key.isPrivate()) entry.private = key as openpgp.PrivateKey;
    entry.files.push(relative(cwd, file) || file);
    keys.set(fingerprint, entry);
  }
  return [...keys.entries()].map(([fingerprint, { key, private: privateKey, files }]) => {
    const info = key.getAlgorithmInfo() as { algorithm: string; curve?: string };
    return {
      fingerprint,
      keyId: keyIdOf(key),
      kind: privateKey ? 'sec' : 'pub',
      algorithm: info.curve ? String(info.curve).replace(/Legacy$/, '') : info.algorithm,
      created: key.getCreationTime().toISOString().slice(0, 10),
      userIds: key.getUserIDs(),
      protected: privateKey ? !privateKey.isDecrypted() : null,
      files,
    };
  });
}

const command: CommandModule = {
  description: 'list the OpenPGP keys in key files and folders (sec: the private key is there too)',
  configure(command) {
    command.argument('[paths...]', 'key files or folders to search for *.asc (default: keys)').option('--json', 'print the keys as JSON');
  },
  async run(context, paths, options) {
    const keys = await listKeys(context.cwd, paths.length > 0 ? paths : ['keys']);
    if (options.json) {
      context.out.json({ keys });
      return;
    }
    if (keys.length === 0) context.out.line('no keys');
    for (const key of keys) {
      context.out.line(`${key.kind}  ${key.algorithm}  ${key.created}  ${key.fingerprint}`);
      for (const userId of key.userIds) context.out.line(`     uid  ${userId}`);
      for (const file of key.files) context.out.line(`     file ${file}${file.endsWith('.key.asc') && key.protected ? ' (passphrase-protected)' : ''}`);
    }
  },
};
export default command;
