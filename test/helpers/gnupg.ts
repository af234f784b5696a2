/**
 * Runs the machine's GnuPG in a throw-away home directory, for interoperability tests.
 * `gpgv` is the scripted check: `gpg --verify` exits 0 even for keys it does not trust.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface GnuPG {
  readonly home: string;
  gpg(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** Writes `content` to a file in the home and returns its path. */
  file(name: string, content: string | Uint8Array): Promise<string>;
  /** Exit status and status lines of `gpgv` checking `signature` over `data` against armoured `publicKeys`. */
  gpgv(publicKeys: readonly string[], signaturePath: string, dataPath: string): Promise<{ exitCode: number; status: string }>;
  close(): Promise<void>;
}

export async function gnupgHome(): Promise<GnuPG> {
  const home = await mkdtemp(join(tmpdir(), 'felhom-gnupg-'));
  const env = { ...process.env, GNUPGHOME: home };
  const gpg = (...args: string[]) => run('gpg', ['--batch', '--no-tty', '--homedir', home, ...args], { env });
  const file = async (name: string, content: string | Uint8Array) => {
    const path = join(home, name);
    await writeFile(path, content);
    return path;
  };
  let keyrings = 0;
  return {
    home,
    gpg,
    file,
    async gpgv(publicKeys, signaturePath, dataPath) {
      const armored = await file(`keyring-${++keyrings}.asc`, publicKeys.join('\n'));
      const keyring = join(home, `keyring-${keyrings}.gpg`);
      await gpg('--dearmor', '--output', keyring, armored);
      try {
        const { stdout } = await run('gpgv', ['--homedir', home, '--status-fd', '1', '--keyring', keyring, signaturePath, dataPath], { env });
        return { exitCode: 0, status: stdout };
      } catch (error) {
        const failed = error as { code?: number; stdout?: string };
        return { exitCode: failed.code ?? -1, status: failed.stdout ?? '' };
      }
    },
    async close() {
      await run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { env }).catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
}
