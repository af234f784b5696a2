/**
 * What the envelope commands (keys generate, sign, verify, trust init, secrets encrypt) share:
 * reading the files they are given, repeatable options, durations, and unlocking keys.
 * Not a command itself, so it has no entry in the command table.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type * as openpgp from 'openpgp';
import { readPrivateKey, type BodyValidator } from '../../runner/envelope/index.js';
import { catalogLookup } from '../../stacks/spec/catalog.js';
import { validateBoxSpec } from '../../stacks/spec/validate.js';
import { keyPassphraseVariable, PASSPHRASE_VARIABLE, readPassphrase } from '../../runner/envelope/passphrase.js';
import { keyIdOf } from '../../runner/envelope/keys.js';
import type { CommandContext } from '../command.js';
import { CliError, usageError } from '../errors.js';

/** commander option parser for a repeatable option (`--key a --key b`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Reads a file the user named; a missing or unreadable file is a failure outside the input (exit 3). */
export async function readInputFile(context: CommandContext, path: string, what: string): Promise<string> {
  try {
    return await readFile(resolve(context.cwd, path), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    throw new CliError('EREAD', `cannot read ${what} ${path}: ${code}`, { fault: 'environment', cause: error });
  }
}

/** A positive integer option, or a usage error naming the option. */
export function positiveInteger(value: unknown, option: string): number {
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number) || number < 1) throw usageError(`${option}: expected a positive integer, got ${JSON.stringify(value)}`);
  return number;
}

const UNIT_MS = { s: 1000, m: 60 * 1000, h: 60 * 60 * 1000, d: 24 * 60 * 60 * 1000 } as const;

/** `30m`, `12h`, `7d` in milliseconds. */
export function duration(value: string, option: string): number {
  const match = /^(\d+)([smhd])$/.exec(value);
  if (!match || Number(match[1]) === 0) throw usageError(`${option}: expected a duration such as 30m, 12h or 7d, got ${JSON.stringify(value)}`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/**
 * Reads and unlocks each private key file. Each key's passphrase comes from its own variable
 * `FELHOM_KEY_PASSPHRASE_<key id>`, else `FELHOM_KEY_PASSPHRASE`, else one prompt per key that
 * names the key, so two operators' keys with different passphrases sign in one command.
 */
export async function unlockKeys(context: CommandContext, paths: readonly string[]): Promise<openpgp.PrivateKey[]> {
  const keys: openpgp.PrivateKey[] = [];
  for (const path of paths) {
    const armored = await readInputFile(context, path, 'private key');
    const passphraseFor = (key: openpgp.PrivateKey) => {
      const userId = key.getUserIDs()[0];
      return readPassphrase({ env: context.env }, `${path} (${keyIdOf(key)}${userId ? ` ${userId}` : ''})`, {
        variables: [keyPassphraseVariable(keyIdOf(key)), PASSPHRASE_VARIABLE],
      });
    };
    keys.push(await readPrivateKey(armored, passphraseFor, path));
  }
  return keys;
}

/**
 * The box spec validator as an envelope body validator: spec bodies must be valid box specs
 * (with the app catalog); job bodies get only the envelope's own checks.
 */
export const validateEnvelopeBody: BodyValidator = (body, type) => {
  if (type !== 'spec') return [];
  const result = validateBoxSpec(body, { catalog: catalogLookup() });
  return result.ok ? [] : result.problems.map((problem) => `${problem.path || '(root)'}: ${problem.message}`);
};
