/**
 * The engine locks a killed `pulumi` leaves behind, wherever the stack's state lives: lock files
 * under the file backend's folder, or lock rows in Pulumi's PostgreSQL backend (its bucket table,
 * `pulumi_state` unless the URL's `table` says otherwise, one row per "file", keyed by its path
 * under the URL's path, the content base64 in `data.data`). Each lock is judged by the pid and host it names: stale only when written on
 * this host by a process that is dead. An S3 backend's locks cannot be listed here; a lock left
 * there shows as the engine's own "the stack is locked" (EngineBusyError) until `pulumi cancel`.
 * docs/engine.md "State backends".
 */
import { readdir, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, sep } from 'node:path';
import { isProcessAlive } from '../state/process.js';

/** Which stack, and where its state lives. */
export interface LockTarget {
  readonly projectName: string;
  readonly stackName: string;
  /** The file backend's folder (`file://<stateDir>`). */
  readonly stateDir: string;
  /** A `postgres://` or `s3://` backend instead of the file one. @default - file://<stateDir> */
  readonly backendUrl?: string;
}

/** One engine lock: a file of the file backend, or a row of the PostgreSQL backend. */
export interface EngineLock {
  /** Where it is: the file's path, or `<table>:<key>` for a row (never the backend URL). */
  readonly file: string;
  readonly pid: number | undefined;
  readonly hostname: string | undefined;
  /** Written by a process that is dead on this host. */
  readonly stale: boolean;
  /** Deletes it (gone already is fine). */
  remove(): Promise<void>;
}

/** The engine locks of `target`'s stack, each judged stale or live by its pid. */
export async function engineLocks(target: LockTarget, isAlive: (pid: number) => boolean = isProcessAlive): Promise<EngineLock[]> {
  const url = target.backendUrl;
  if (url === undefined || url.startsWith('file://')) return fileLocks(url ? fileUrlPath(url) : target.stateDir, target, isAlive);
  if (/^postgres(?:ql)?:\/\//.test(url)) return postgresLocks(url, target, isAlive);
  return [];
}

function fileUrlPath(url: string): string {
  return decodeURIComponent(url.slice('file://'.length));
}

/** Whether a lock key (a path relative to the backend's root, with `sep`) belongs to the stack. */
function isStackLock(key: string, target: LockTarget, separator: string): boolean {
  return key.endsWith('.json') && `${separator}${key}`.includes(`${separator}${target.projectName}${separator}${target.stackName}${separator}`);
}

function judge(content: { pid?: unknown; hostname?: unknown }, isAlive: (pid: number) => boolean): Pick<EngineLock, 'pid' | 'hostname' | 'stale'> {
  const pid = typeof content.pid === 'number' ? content.pid : undefined;
  const host = typeof content.hostname === 'string' ? content.hostname : undefined;
  // A pid means something only on the host that wrote it.
  const stale = pid !== undefined && host === hostname() && !isAlive(pid);
  return { pid, hostname: host, stale };
}

function parseLock(text: string): { pid?: unknown; hostname?: unknown } {
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed !== null && typeof parsed === 'object' ? (parsed as { pid?: unknown; hostname?: unknown }) : {};
  } catch {
    // an unreadable lock is judged by what we know: nothing, so it is not ours to call stale
    return {};
  }
}

async function fileLocks(stateDir: string, target: LockTarget, isAlive: (pid: number) => boolean): Promise<EngineLock[]> {
  const root = join(stateDir, '.pulumi', 'locks');
  let names: string[];
  try {
    names = await readdir(root, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const locks: EngineLock[] = [];
  for (const name of names) {
    if (!isStackLock(name, target, sep)) continue;
    const file = join(root, name);
    const content = parseLock(await readFile(file, 'utf8').catch(() => ''));
    locks.push({
      file,
      ...judge(content, isAlive),
      remove: () =>
        unlink(file).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        }),
    });
  }
  return locks;
}

/** The table Pulumi's PostgreSQL backend keeps its "files" in. */
export function postgresStateTable(url: string): string {
  const table = new URL(url).searchParams.get('table') ?? 'pulumi_state';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) throw new Error(`state backend: table ${JSON.stringify(table)} is not a plain SQL name`);
  return table;
}

/**
 * What Pulumi puts before every key: the URL's path (the database name), as a folder, since a
 * backend URL's path is a prefix inside its bucket (pkg/backend/diy: `blob.PrefixedBucket`).
 */
export function postgresKeyPrefix(url: string): string {
  const path = decodeURIComponent(new URL(url).pathname).replace(/^\/+/, '');
  return path === '' || path.endsWith('/') ? path : `${path}/`;
}

/** The URL as `pg` takes it: without the query parameters only Pulumi's driver (lib/pq) knows. */
function pgConnection(url: string): { connectionString: string; ssl?: false } {
  const parsed = new URL(url);
  const sslmode = parsed.searchParams.get('sslmode');
  for (const name of [...parsed.searchParams.keys()]) if (name !== 'sslmode') parsed.searchParams.delete(name);
  return sslmode === 'disable' ? { connectionString: parsed.href, ssl: false } : { connectionString: parsed.href };
}

async function postgresLocks(url: string, target: LockTarget, isAlive: (pid: number) => boolean): Promise<EngineLock[]> {
  const table = postgresStateTable(url);
  const { default: pg } = await import('pg');
  const client = new pg.Client(pgConnection(url));
  await client.connect();
  try {
    const exists = await client.query<{ name: string | null }>('SELECT to_regclass($1) AS name', [table]);
    // A backend Pulumi has never written to has no table yet, so no lock either.
    if (!exists.rows[0]?.name) return [];
    const prefix = `${postgresKeyPrefix(url)}.pulumi/locks/`;
    const rows = await client.query<{ key: string; data: { data?: string } | string }>(`SELECT key, data FROM "${table}" WHERE left(key, length($1)) = $1`, [prefix]);
    return rows.rows
      .filter((row) => isStackLock(row.key.slice(prefix.length), target, '/'))
      .map((row) => {
        const blob = typeof row.data === 'string' ? (parseLock(row.data) as { data?: string }) : row.data;
        const content = parseLock(Buffer.from(typeof blob.data === 'string' ? blob.data : '', 'base64').toString('utf8'));
        return {
          file: `${table}:${row.key}`,
          ...judge(content, isAlive),
          remove: async () => {
            const remover = new pg.Client(pgConnection(url));
            await remover.connect();
            try {
              await remover.query(`DELETE FROM "${table}" WHERE key = $1`, [row.key]);
            } finally {
              await remover.end();
            }
          },
        };
      });
  } finally {
    await client.end();
  }
}
