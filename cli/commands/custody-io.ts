/**
 * What the `felhom custody …` commands share: the box's custody context from `--state`, `--box`,
 * `--hub` and its API key, the customer's recovery code (from FELHOM_RECOVERY_CODE or a prompt
 * without echo, never from a flag) and the operator keys a custody names.
 * Not a command itself, so it has no entry in the command table.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type * as openpgp from 'openpgp';
import { readPublicKey } from '../../runner/envelope/keys.js';
import { readPassphrase } from '../../runner/envelope/passphrase.js';
import { HubClient } from '../../runner/hub/client.js';
import { HUB_URL_ENV } from '../../runner/hub/operator.js';
import { AuditLog } from '../../runner/state/audit.js';
import { readSecretFile, stateLayout } from '../../runner/agent/state-dir.js';
import type { CustodyContext } from '../../runner/custody/custody.js';
import type { KeyCustody } from '../../stacks/spec/types.js';
import type { CommandContext } from '../command.js';
import { usageError } from '../errors.js';
import { collect, readInputFile } from './envelope-io.js';

/** Where a recovery code comes from in scripts and tests; on a terminal it is asked for. */
export const RECOVERY_CODE_VARIABLE = 'FELHOM_RECOVERY_CODE';

export const CUSTODIES: readonly KeyCustody[] = ['customer-only', 'zero-knowledge-escrow', 'operator-managed'];

/** The options naming the box, its state and its hub. */
export function boxOptions(command: Command): Command {
  return command
    .requiredOption('--state <dir>', 'the agent state directory')
    .requiredOption('--box <id>', 'this box id')
    .option('--hub <url>', `hub URL (default: $${HUB_URL_ENV}); needed for every custody but customer-only`)
    .option('--api-key-file <file>', 'the hub API key (default: <state>/keys/hub-api-key)');
}

export function operatorKeyOption(command: Command): Command {
  return command.option('--operator-key <public.asc>', 'with operator-managed custody: an operator public key that may unwrap (repeatable)', collect);
}

export function parseCustody(value: unknown): KeyCustody {
  if (!CUSTODIES.includes(value as KeyCustody)) throw usageError(`--custody: expected one of ${CUSTODIES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as KeyCustody;
}

/** The custody context for the box the options name; the hub client only when a hub URL is known. */
export async function boxCustodyContext(context: CommandContext, options: Record<string, unknown>, actor = 'agent'): Promise<CustodyContext> {
  const stateDir = resolve(context.cwd, options.state as string);
  const url = typeof options.hub === 'string' && options.hub ? options.hub : context.env[HUB_URL_ENV];
  let hub: HubClient | undefined;
  if (url) {
    const keyFile = options.apiKeyFile ? resolve(context.cwd, options.apiKeyFile as string) : stateLayout(stateDir).hubApiKey;
    const token = await readSecretFile(keyFile);
    if (token === undefined) throw usageError(`no hub API key at ${keyFile}: pass --api-key-file`);
    hub = new HubClient({ url, token });
  }
  const audit = await AuditLog.open(AuditLog.fileIn(stateDir));
  return { stateDir, box: options.box as string, audit, actor, ...(hub ? { hub } : {}) };
}

export async function readOperatorKeys(context: CommandContext, paths: readonly string[] | undefined): Promise<openpgp.PublicKey[]> {
  const keys: openpgp.PublicKey[] = [];
  for (const path of paths ?? []) keys.push(await readPublicKey(await readInputFile(context, path, 'operator public key'), path));
  return keys;
}

/** The recovery code the customer types (no echo), or FELHOM_RECOVERY_CODE. */
export function readRecoveryCode(context: CommandContext, purpose: string): Promise<string> {
  return readPassphrase({ env: context.env }, purpose, { variables: [RECOVERY_CODE_VARIABLE] });
}

/** The options that say where the offsite backups are, for the recovery sheet. */
export function sheetOptions(command: Command): Command {
  return command
    .option('--pbs-server <host>', 'the PBS server, for the sheet')
    .option('--pbs-datastore <name>', 'the PBS datastore, for the sheet')
    .option('--pbs-namespace <ns>', 'the PBS namespace, for the sheet');
}

/** The sheet's PBS location from {@link sheetOptions}, when server and datastore are given. */
export function sheetPbs(options: Record<string, unknown>): { server: string; datastore: string; namespace?: string } | undefined {
  if (typeof options.pbsServer !== 'string' || typeof options.pbsDatastore !== 'string') return undefined;
  return { server: options.pbsServer, datastore: options.pbsDatastore, ...(typeof options.pbsNamespace === 'string' ? { namespace: options.pbsNamespace } : {}) };
}
