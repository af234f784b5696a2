/**
 * One run at a time per stack, across processes (docs/architecture.md#runner): a lock file created with O_EXCL
 * (`wx`) holding the holder's pid, hostname and start time.
 *
 * A lock whose holder is a dead process on this host is stale and is taken over: the taker
 * renames the stale file aside (an atomic step only one process can win), checks it moved the
 * stale holder's file and not a fresh one, then creates its own with O_EXCL again.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isProcessAlive } from './process.js';
import { StateError, syncDirectory } from './store.js';

export interface LockHolder {
  readonly pid: number;
  readonly hostname: string;
  /** ISO 8601 time the holder took the lock. */
  readonly startedAt: string;
  /** Identifies this acquisition, so a holder only ever releases its own lock. */
  readonly token: string;
}

/** Another live process holds the lock: retry later. */
export class LockHeldError extends StateError {
  readonly file: string;
  readonly holder: Partial<LockHolder>;
  constructor(file: string, holder: Partial<LockHolder>) {
    const who = holder.pid === undefined ? 'a process still writing the lock file' : `pid ${holder.pid} on ${holder.hostname ?? 'an unknown host'} since ${holder.startedAt ?? 'an unknown time'}`;
    super('ELOCK_HELD', 'waiting', `lock ${file} is held by ${who}`);
    this.file = file;
    this.holder = holder;
  }
}

export interface LockOptions {
  /** Whether a pid is alive on this host; injectable for tests. @default - signal 0 */
  readonly isAlive?: (pid: number) => boolean;
  /** A lock file with no readable holder older than this is stale (its writer died mid-write). @default 10 000 ms */
  readonly unreadableStaleAfterMs?: number;
}

export { isProcessAlive };

/** A held lock. Release it when the run ends; releasing twice is harmless. */
export class Lock {
  readonly file: string;
  readonly holder: LockHolder;
  #released = false;

  constructor(file: string, holder: LockHolder) {
    this.file = file;
    this.holder = holder;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const current = await readHolder(this.file);
    // Never remove a lock someone else took over (after we were wrongly judged stale).
    if (current.kind === 'holder' && current.holder.token === this.holder.token) await unlink(this.file).catch(ignoreMissing);
  }
}

/** The lock file for a stack (`<box>.<tier>`) inside an agent state directory. */
export function stackLockFile(stateDir: string, stack: string): string {
  return join(stateDir, 'locks', `${stack}.lock`);
}

type ReadResult = { kind: 'missing' } | { kind: 'unreadable'; text: string } | { kind: 'holder'; holder: LockHolder; text: string };

async function readHolder(file: string): Promise<ReadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw error;
  }
  try {
    const value = JSON.parse(text) as LockHolder;
    if (Number.isSafeInteger(value.pid) && typeof value.hostname === 'string' && typeof value.token === 'string') return { kind: 'holder', holder: value, text };
  } catch {
    // fall through: a lock file whose writer has not finished (or died) writing it
  }
  return { kind: 'unreadable', text };
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}

/** Takes the lock at `file` or throws {@link LockHeldError}; a stale lock is taken over. */
export async function acquireLock(file: string, options: LockOptions = {}): Promise<Lock> {
  const isAlive = options.isAlive ?? isProcessAlive;
  const unreadableStaleAfterMs = options.unreadableStaleAfterMs ?? 10_000;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const holder: LockHolder = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), token: randomBytes(16).toString('hex') };

  // A few rounds: each failed round means another process changed the lock under us.
  for (let round = 0; round < 5; round++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify(holder));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await syncDirectory(dirname(file));
      return new Lock(file, holder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }

    const existing = await readHolder(file);
    if (existing.kind === 'missing') continue;
    if (existing.kind === 'holder') {
      const { holder: other } = existing;
      // A pid means nothing on another host: only a person can judge that lock.
      if (other.hostname !== hostname() || isAlive(other.pid)) throw new LockHeldError(file, other);
    } else {
      const age = Date.now() - (await stat(file).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age < unreadableStaleAfterMs) throw new LockHeldError(file, {});
    }
    await takeOverStale(file, existing.text);
  }
  throw new LockHeldError(file, {});
}

async function takeOverStale(file: string, staleText: string): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch (error) {
    ignoreMissing(error); // another process took it over first; try again
    return;
  }
  const moved = await readFile(aside, 'utf8');
  if (moved !== staleText) {
    // Between our read and our rename someone replaced the stale lock with a live one: put it back.
    await link(aside, file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  await unlink(aside).catch(ignoreMissing);
}
