/**
 * The customer's audit-page password (docs/agent.md "The customer's audit page"): kept as an scrypt
 * hash (runner/controller/audit-page.ts `hashPassword`) in the controller's `<state>/keys/ui-password`,
 * 0600, written by `felhom controller ui-password` and read by `felhom controller run --ui-listen`.
 */
import { readFile, stat } from 'node:fs/promises';
import { FelhomError } from '../../lib/errors.js';
import { writeFileDurably } from '../state/store.js';
import { hashPassword } from './audit-page.js';

export const UI_PASSWORD_FILE = 'ui-password';
const HASH = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/;
const HOW = 'set it with `felhom controller ui-password --state <dir>` (the password on standard input)';

export class UiPasswordError extends FelhomError {
  constructor(message: string, options: { cause?: unknown; usage?: boolean } = {}) {
    super('EUI_PASSWORD', options.usage ? 'usage' : 'stalled', message, { cause: options.cause, fault: 'input' });
  }
}

/** The hash in `file`; a missing, open or malformed file is refused naming it and how to make it. */
export async function readUiPasswordHash(file: string): Promise<string> {
  let text: string;
  try {
    if (((await stat(file)).mode & 0o077) !== 0) throw new UiPasswordError(`${file}: readable by group or others: chmod 0600 it, or ${HOW}`);
    text = (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if (error instanceof UiPasswordError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UiPasswordError(`${file}: no audit-page password: ${HOW}`, { cause: error });
    throw new UiPasswordError(`${file}: ${(error as Error).message}`, { cause: error });
  }
  if (!HASH.test(text)) throw new UiPasswordError(`${file}: not a password hash this controller wrote: ${HOW}`);
  return text;
}

/** Hashes `password` and writes it to `file` (0600, atomically); a password under 8 characters is refused. */
export async function writeUiPasswordHash(file: string, password: string): Promise<void> {
  if (password.length < 8) throw new UiPasswordError('password: at least 8 characters', { usage: true });
  if (password.length > 1024) throw new UiPasswordError('password: at most 1024 characters', { usage: true });
  await writeFileDurably(file, `${await hashPassword(password)}\n`, 0o600);
}
