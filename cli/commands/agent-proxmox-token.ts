/**
 * `felhom agent proxmox-token --state <dir> [--endpoint <url>] [--root-token-file <file>]`: on the
 * Proxmox host, as root, once after `felhom agent enroll`: the agent mints its own scoped API
 * token (runner/enrollment/proxmox-token.ts; the roles and privileges in docs/agent.md "The
 * agent's Proxmox API token") and writes it to `<state>/secrets/proxmox-api-token`. The root
 * credential comes from a file (0600) or $FELHOM_PROXMOX_ROOT_TOKEN, never from the command line,
 * where `ps` would show it. Run again: it changes only what differs and says what.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandContext, CommandModule } from '../command.js';
import { usageError } from '../errors.js';

export const ROOT_TOKEN_ENV = 'FELHOM_PROXMOX_ROOT_TOKEN';
/** A loopback endpoint: the host's own PVE API, whose self-signed certificate is accepted. */
export const LOOPBACK = /^https:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/?$/;

/** `--endpoint`, else $FELHOM_PROXMOX_API, else the host's own API. */
export function proxmoxEndpoint(context: CommandContext, options: Record<string, unknown>): string {
  return (options.endpoint as string | undefined) || context.env.FELHOM_PROXMOX_API || 'https://127.0.0.1:8006';
}

/** root@pam's token from `--root-token-file` (0600), else $FELHOM_PROXMOX_ROOT_TOKEN; undefined when neither. */
export async function rootTokenOption(context: CommandContext, options: Record<string, unknown>): Promise<string | undefined> {
  if (!options.rootTokenFile) return context.env[ROOT_TOKEN_ENV] || undefined;
  const { readSecretFile } = await import('../../runner/agent/state-dir.js');
  const file = resolve(context.cwd, options.rootTokenFile as string);
  let token: string | undefined;
  try {
    token = await readSecretFile(file);
  } catch (cause) {
    throw usageError(`--root-token-file: ${(cause as Error).message}`);
  }
  if (token === undefined) throw usageError(`--root-token-file: ${file} does not exist`);
  return token;
}

/** The PEM of `--ca`, else $FELHOM_PROXMOX_CA; undefined when neither. */
export async function caOption(context: CommandContext, options: Record<string, unknown>): Promise<string | undefined> {
  const caFile = (options.ca as string | undefined) || context.env.FELHOM_PROXMOX_CA;
  if (!caFile) return undefined;
  try {
    return await readFile(resolve(context.cwd, caFile), 'utf8');
  } catch (cause) {
    throw usageError(`--ca: cannot read ${caFile}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`);
  }
}

const command: CommandModule = {
  description: "mint the agent's own scoped Proxmox API token with a root credential given once",
  configure(command) {
    command
      .requiredOption('--state <dir>', 'the agent state directory (the token goes to secrets/proxmox-api-token)')
      .option('--endpoint <url>', 'the PVE API (default: $FELHOM_PROXMOX_API, else https://127.0.0.1:8006)')
      .option('--root-token-file <file>', `a file (0600) holding root@pam's API token USER@REALM!TOKENID=SECRET, without privilege separation (default: $${ROOT_TOKEN_ENV})`)
      .option('--ca <file>', "a PEM certificate to trust (default: $FELHOM_PROXMOX_CA; a loopback endpoint's self-signed certificate is accepted)")
      .option('--json', 'print the result as JSON');
  },
  async run(context, _args, options) {
    const endpoint = proxmoxEndpoint(context, options);
    const rootToken = await rootTokenOption(context, options);
    if (!rootToken) throw usageError(`--root-token-file: no root credential: pass a file holding root@pam's API token, or set $${ROOT_TOKEN_ENV} (never on the command line)`);
    const ca = await caOption(context, options);
    const { mintProxmoxToken } = await import('../../runner/enrollment/proxmox-token.js');
    const result = await mintProxmoxToken({
      endpoint,
      rootToken,
      stateDir: resolve(context.cwd, options.state as string),
      ...(ca ? { ca } : { insecure: LOOPBACK.test(endpoint) }),
      onStep: (line) => {
        if (!options.json) context.out.warn(`felhom: proxmox token: ${line}`);
      },
    });
    if (options.json) {
      context.out.json(result);
      return;
    }
    if (result.changes.length === 0) context.out.line('nothing to change: the roles, user, ACLs and token are as the agent needs them');
    context.out.line(`token ${result.tokenId} ${result.token}; the agent reads it from ${result.tokenFile}`);
    for (const grant of result.grants) context.out.line(`  ${grant.path}${grant.propagate ? '' : ' (not propagated)'}: ${grant.role} = ${grant.privileges.join(', ')}`);
    context.out.line('the root credential is no longer needed for the agent: remove it on the host if it was made for this (pveum user token remove root@pam <id>)');
  },
};
export default command;
