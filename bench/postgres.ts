/**
 * A throw-away PostgreSQL server for the tests and the benchmark: Debian's `postgresql`
 * binaries (initdb, pg_ctl) on a data directory, unix socket directory and free 127.0.0.1 port
 * of its own, run as the non-root `postgres` user when running as root (PostgreSQL refuses to
 * run as root). Fails naming the package when the binaries are missing.
 */
import { execFile, type ExecFileOptions } from 'node:child_process';
import { access, chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
export const PG_BIN = process.env.FELHOM_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface LocalPostgres {
  /** postgres:// URL of the server's `postgres` database (the superuser `felhom`). */
  readonly adminUrl: string;
  readonly port: number;
  /** Creates a fresh database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function postgresUser(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null;
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new Error('the tests run as root and PostgreSQL must not: the `postgres` system user is missing (Debian package `postgresql` creates it)');
  }
}

let counter = 0;

/** Starts a PostgreSQL server; the caller stops it. `fsync` off (the default) suits tests; a benchmark keeps it on. */
export async function startLocalPostgres(settings: { fsync?: boolean } = {}): Promise<LocalPostgres> {
  try {
    await access(join(PG_BIN, 'pg_ctl'));
  } catch {
    throw new Error(`PostgreSQL binaries not found in ${PG_BIN}: install the Debian package \`postgresql\` (listed in test/system-packages.txt)`);
  }
  const user = await postgresUser();
  const root = await mkdtemp(join(tmpdir(), 'felhom-pg-'));
  await chmod(root, 0o755);
  if (user) await chown(root, user.uid, user.gid);
  const data = join(root, 'data');
  const options: ExecFileOptions = { ...(user ? { uid: user.uid, gid: user.gid } : {}), cwd: root, env: { PATH: process.env.PATH, LANG: 'C', LC_ALL: 'C' } };
  await run(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'felhom', '--auth=trust', '--no-sync', '-E', 'UTF8'], options);
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await run(
        join(PG_BIN, 'pg_ctl'),
        ['-D', data, '-l', join(root, 'server.log'), '-w', '-t', '60', '-o', `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=${settings.fsync ? 'on' : 'off'} -c max_connections=200`, 'start'],
        options,
      );
      break;
    } catch (error) {
      if (attempt >= 3) throw new Error(`PostgreSQL did not start (log: ${join(root, 'server.log')}): ${(error as Error).message}`);
    }
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await run(join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], options).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  };
  const adminUrl = `postgres://felhom@127.0.0.1:${port}/postgres`;
  return {
    adminUrl,
    port,
    stop,
    createDatabase: async (name = `hub_${process.pid}_${++counter}`) => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://felhom@127.0.0.1:${port}/${name}`;
    },
  };
}
