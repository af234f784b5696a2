/**
 * Where a private key's passphrase comes from: the `FELHOM_KEY_PASSPHRASE` variable (scripts,
 * the agent's service unit), else a prompt without echo on a terminal. Never from a command-line
 * argument: those are visible to every user in the process list.
 */
import { FelhomError } from '../../lib/errors.js';
export const PASSPHRASE_VARIABLE = 'FELHOM_KEY_PASSPHRASE';

/** No passphrase can be had: a usage error. */
export class PassphraseUnavailableError extends FelhomError {
  constructor(message: string) {
    super('EUSAGE', 'usage', message);
  }
}

export interface PassphraseSource {
  readonly env: NodeJS.ProcessEnv;
  /** @default - process.stdin */
  readonly input?: NodeJS.ReadStream;
  /** Where the prompt is written. @default - process.stderr */
  readonly prompt?: { write(text: string): unknown };
}

/**
 * The variable holding the passphrase of one key, so two keys with different passphrases can
 * sign in one unattended command: `FELHOM_KEY_PASSPHRASE_<key id>`, the key id as GnuPG prints it.
 */
export function keyPassphraseVariable(keyId: string): string {
  return `${PASSPHRASE_VARIABLE}_${keyId.toUpperCase()}`;
}

/**
 * The passphrase for `purpose` ("the new key", "alice <...>"); asks twice when `confirm`.
 * `variables` are looked up in order before the prompt. @default - [FELHOM_KEY_PASSPHRASE]
 */
export async function readPassphrase(
  source: PassphraseSource,
  purpose: string,
  options: { confirm?: boolean; variables?: readonly string[] } = {},
): Promise<string> {
  const variables = options.variables ?? [PASSPHRASE_VARIABLE];
  for (const variable of variables) {
    const fromEnv = source.env[variable];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  }
  const input = source.input ?? process.stdin;
  if (!input.isTTY) {
    throw new PassphraseUnavailableError(`a passphrase for ${purpose} is needed: set ${variables.join(' or ')} or run on a terminal to be asked`);
  }
  const prompt = source.prompt ?? process.stderr;
  const first = await promptHidden(input, prompt, `Passphrase for ${purpose}: `);
  if (options.confirm && (await promptHidden(input, prompt, 'Repeat the passphrase: ')) !== first) {
    throw new PassphraseUnavailableError('the two passphrases differ');
  }
  if (first === '') throw new PassphraseUnavailableError('the passphrase is empty');
  return first;
}

/** Reads one line from a terminal in raw mode so the typed characters are not echoed. */
function promptHidden(input: NodeJS.ReadStream, prompt: { write(text: string): unknown }, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let typed = '';
    prompt.write(question);
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    const finish = (error?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      prompt.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003') return finish(new PassphraseUnavailableError('interrupted'));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    input.on('data', onData);
  });
}
