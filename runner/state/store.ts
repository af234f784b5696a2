/**
 * The durable JSON store under the hub's and the agent's local state: lowdb's `Low` over an
 * adapter that survives a kill at any moment.
 *
 * lowdb's own file adapters rename a temp file into place but never fsync, so a power cut can
 * leave an empty or partial file; its presets switch to memory under NODE_ENV=test. This
 * adapter writes temp file → fsync → rename → fsync of the directory, and a file that does not
 * parse is a {@link StoreCorruptError} naming the file: state is never silently reset.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { isProcessAlive } from './process.js';
import { FelhomError } from '../../lib/errors.js';

/**
 * The base of every error the state primitives throw: a reason code and how to handle it. The
 * state on disk is never the command's input: every state error is the environment's fault.
 */
export class StateError extends FelhomError {
  /** `stalled`: needs a person; `waiting`: retry later. */
  declare readonly kind: 'waiting' | 'stalled';
  constructor(code: string, kind: 'waiting' | 'stalled', message: string, options: { cause?: unknown; details?: readonly string[] } = {}) {
    super(code, kind, message, { ...options, fault: 'environment' });
  }
}

/** The state file exists but does not hold what the store wrote: someone or something damaged it. */
export class StoreCorruptError extends StateError {
  readonly file: string;
  constructor(file: string, detail: string, options: { cause?: unknown } = {}) {
    super('ESTORE_CORRUPT', 'stalled', `state file ${file} is corrupt (${detail}); restore it from a backup or move it aside, it is never reset automatically`, options);
    this.file = file;
  }
}

/** A durable write failed; the in-memory data is ahead of the disk, so the store refuses further writes. */
export class StoreWriteError extends StateError {
  readonly file: string;
  constructor(file: string, options: { cause?: unknown } = {}) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super('ESTORE_WRITE', 'stalled', `could not write state file ${file}: ${reason}`, options);
    this.file = file;
  }
}

/**
 * Writes `content` to `file` so that after a crash at any moment the file holds either the old
 * or the new content, complete: temp file in the same directory, fsync, rename, fsync directory.
 */
export async function writeFileDurably(file: string, content: string | Uint8Array, mode = 0o600): Promise<void> {
  const directory = dirname(file);
  const temp = join(directory, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(directory);
}

/** Makes a rename or a new file in `directory` durable (a no-op where directories cannot be opened). */
export async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch (error) {
    // Some platforms refuse to fsync a directory (EISDIR/EPERM/EINVAL); the rename is still atomic there.
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await handle?.close();
  }
}

/** Deletes temp files a killed writer left next to `file` (named with the writer's pid). */
async function removeAbandonedTempFiles(file: string): Promise<void> {
  const prefix = `.${basename(file)}.`;
  for (const name of await readdir(dirname(file))) {
    const match = name.startsWith(prefix) ? /^(\d+)\.[0-9a-f]+\.tmp$/.exec(name.slice(prefix.length)) : null;
    if (!match) continue;
    if (!isProcessAlive(Number(match[1]))) await rm(join(dirname(file), name), { force: true });
  }
}

/** lowdb adapter: JSON on disk, written durably, read strictly. */
export class DurableJsonFile<T> implements Adapter<T> {
  readonly file: string;
  constructor(file: string) {
    this.file = file;
  }

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    // The store always writes a whole document, so even an empty file means damage, not "new".
    if (text.trim() === '') throw new StoreCorruptError(this.file, 'the file is empty');
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new StoreCorruptError(this.file, `not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new StoreCorruptError(this.file, 'the top level is not a JSON object');
    }
    return data as T;
  }

  async write(data: T): Promise<void> {
    // Serialised now, synchronously: the bytes are the data as of this call.
    await writeFileDurably(this.file, `${JSON.stringify(data, null, 1)}\n`);
  }
}

interface PendingFlush {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * A lowdb document with serialised, group-committed durable writes: `update` mutates the data
 * in memory and resolves once a write that includes the mutation is on disk. Concurrent updates
 * share one write, which keeps many small updates (a hub enrolling boxes) cheap.
 */
export class DurableStore<T extends object> {
  readonly file: string;
  readonly #low: Low<T>;
  #writing = false;
  #next: PendingFlush | null = null;
  #broken: StoreWriteError | null = null;

  private constructor(file: string, low: Low<T>) {
    this.file = file;
    this.#low = low;
  }

  /**
   * Opens (or starts) the store at `file`. `defaults` is used only when the file does not exist;
   * `check` validates a loaded document and returns a problem to report as corruption.
   */
  static async open<T extends object>(file: string, defaults: () => T, check?: (data: T) => string | undefined): Promise<DurableStore<T>> {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await removeAbandonedTempFiles(file);
    const low = new Low<T>(new DurableJsonFile<T>(file), defaults());
    await low.read();
    const problem = check?.(low.data);
    if (problem) throw new StoreCorruptError(file, problem);
    return new DurableStore(file, low);
  }

  /** The current data. Change it only inside {@link update}. */
  get data(): T {
    return this.#low.data;
  }

  /** Applies `mutate` in memory and resolves once it is durably on disk. */
  async update<R>(mutate: (data: T) => R): Promise<R> {
    if (this.#broken) throw this.#broken;
    const result = mutate(this.#low.data);
    await this.#flush();
    return result;
  }

  #flush(): Promise<void> {
    if (!this.#next) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.#next = { promise, resolve, reject };
      // The loop takes the batch synchronously, so hand out the promise first.
      if (!this.#writing) void this.#writeLoop();
      return promise;
    }
    return this.#next.promise;
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    while (this.#next) {
      const batch = this.#next;
      this.#next = null;
      try {
        if (this.#broken) throw this.#broken;
        await this.#low.write();
        batch.resolve();
      } catch (error) {
        this.#broken ??= error instanceof StoreWriteError ? error : new StoreWriteError(this.file, { cause: error });
        batch.reject(this.#broken);
      }
    }
    this.#writing = false;
  }
}
