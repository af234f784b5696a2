/**
 * The agent mints its own scoped Proxmox API token at set-up (docs/agent.md "The agent's Proxmox
 * API token", architecture.md#enrollment: enrollment first, then the token, then the customer LXC). With a root
 * credential given once (an API token of root@pam without privilege separation), it makes, or
 * brings back to what {@link PROXMOX_AGENT_GRANTS} says:
 *
 *   - one role per ACL path holding exactly that path's privileges (an existing role that differs
 *     is rewritten),
 *   - the group `felhom-agent` and the user `felhom-agent@pve` in it,
 *   - the privilege-separated token `felhom-agent@pve!agent`,
 *   - the ACLs: each role on its path for the user and for the token (a privilege-separated
 *     token holds what both have); ACL entries of the user or token beyond these are removed,
 *
 * and writes the token to `<state>/secrets/proxmox-api-token` (0600, `USER@REALM!TOKENID=UUID`,
 * what runner/agent/host-access.ts and the host tier read). Run again, it changes only what
 * differs: the token is kept when the state file holds a secret the host accepts, and is
 * regenerated (deleted and made anew) otherwise, saying why. The secret never reaches a log line,
 * an error or the result; the root credential is used for these calls only and kept nowhere.
 */
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FelhomError, type ErrorFault, type ErrorKind } from '../../lib/errors.js';
import { PROXMOX_TOKEN_REF } from '../agent/environment.js';
import { PveApiClient, PveApiError } from '../agent/pve-api-client.js';
import { readSecretFile } from '../agent/state-dir.js';
import { writeFileDurably } from '../state/store.js';
import { PROXMOX_AGENT_GRANTS, PROXMOX_AGENT_GROUP, PROXMOX_AGENT_TOKEN, PROXMOX_AGENT_TOKEN_ID, PROXMOX_AGENT_USER, agentPrivileges, rolePrivileges } from './proxmox-privileges.js';

/** Minting failed: a field of the input is wrong (`usage`), the host refused (`stalled`), or it did not answer (`waiting`). */
export class ProxmoxTokenError extends FelhomError {
  constructor(code: string, kind: ErrorKind, message: string, options: { cause?: unknown; fault?: ErrorFault } = {}) {
    super(code, kind, message, options);
  }
}

export interface MintOptions {
  /** The PVE API, `https://127.0.0.1:8006` on the host itself. */
  readonly endpoint: string;
  /** The root credential: `root@pam!<id>=<secret>`, an API token without privilege separation. */
  readonly rootToken: string;
  /** The agent's state directory (made by `felhom agent enroll`). */
  readonly stateDir: string;
  /** A PEM certificate to trust. */
  readonly ca?: string;
  /** Accept the host's self-signed certificate (a loopback endpoint). */
  readonly insecure?: boolean;
  /** One line per change or decision, never a secret. */
  readonly onStep?: (line: string) => void;
  /** Between task polls and per request, for tests. */
  readonly timeoutMs?: number;
}

export interface MintResult {
  /** `felhom-agent@pve!agent`. */
  readonly tokenId: string;
  /** Where the token is: `<state>/secrets/proxmox-api-token`. */
  readonly tokenFile: string;
  /** What happened to the token. */
  readonly token: 'created' | 'kept' | 'regenerated';
  /** What this run changed on the host and in the state, one line each; empty when nothing differed. */
  readonly changes: readonly string[];
  /** Every privilege the token holds, by role and path. */
  readonly grants: readonly { readonly path: string; readonly role: string; readonly propagate: boolean; readonly privileges: readonly string[] }[];
}

const TOKEN = /^([^\s!@:/]+@[A-Za-z][A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)=(\S+)$/;
const ENDPOINT = /^https:\/\/[^/\s]+\/?$/;

function inputError(message: string): ProxmoxTokenError {
  return new ProxmoxTokenError('EPROXMOX_TOKEN_INPUT', 'usage', message, { fault: 'input' });
}

/** The token file's token id, or undefined when it holds no `USER@REALM!TOKENID=SECRET`. */
function storedTokenId(text: string | undefined): string | undefined {
  const match = TOKEN.exec(text ?? '');
  return match ? `${match[1]}!${match[2]}` : undefined;
}

function notFound(error: unknown): boolean {
  return error instanceof PveApiError && error.status === 500 && /does not exist|no such/i.test(error.message);
}

/**
 * Checks every field before anything is sent, naming the field (the credential is never echoed),
 * and reads the token file the state has (undefined when none).
 */
async function checkInput(options: MintOptions, tokenFile: string): Promise<string | undefined> {
  if (!ENDPOINT.test(options.endpoint)) throw inputError(`endpoint: expected https://<host>:<port>, got ${JSON.stringify(options.endpoint)}`);
  const root = TOKEN.exec(options.rootToken.trim());
  if (!root) throw inputError('root credential: expected an API token USER@REALM!TOKENID=SECRET (root@pam, without privilege separation); what was given is not one');
  if (`${root[1]}!${root[2]}` === PROXMOX_AGENT_TOKEN) throw inputError(`root credential: ${PROXMOX_AGENT_TOKEN} is the token being minted, not a root credential`);
  let info;
  try {
    info = await stat(options.stateDir);
  } catch {
    throw inputError(`state: ${options.stateDir} does not exist (run felhom agent enroll first)`);
  }
  if (!info.isDirectory()) throw inputError(`state: ${options.stateDir} is not a directory`);
  try {
    return await readSecretFile(tokenFile);
  } catch (cause) {
    throw inputError(`state: ${(cause as Error).message}`);
  }
}

/** Mints (or checks and repairs) the agent's scoped token; see the module comment. */
export async function mintProxmoxToken(options: MintOptions): Promise<MintResult> {
  const secrets = join(options.stateDir, 'secrets');
  const tokenFile = join(secrets, PROXMOX_TOKEN_REF);
  const stored = await checkInput(options, tokenFile);
  const say = options.onStep ?? (() => {});
  const changes: string[] = [];
  const change = (line: string) => {
    changes.push(line);
    say(line);
  };
  const tls = { ...(options.ca ? { ca: options.ca } : {}), ...(options.insecure ? { insecure: true } : {}), ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) };
  const root = new PveApiClient({ endpoint: options.endpoint, token: options.rootToken.trim(), ...tls });
  const call = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof PveApiError)) throw error;
      if (error.kind === 'waiting') throw new ProxmoxTokenError('EPROXMOX_UNREACHABLE', 'waiting', `${what}: the Proxmox host did not answer: ${error.message}`, { cause: error });
      const refused = error.status === 401 || error.status === 403;
      throw new ProxmoxTokenError(refused ? 'EPROXMOX_REFUSED' : 'EPROXMOX_TOKEN', 'stalled', `${what}: ${error.message}${refused ? ' (the root credential must be an API token of root@pam without privilege separation)' : ''}`, { cause: error, fault: refused ? 'input' : 'environment' });
    }
  };

  await call('checking the root credential', () => root.get('/version'));

  for (const grant of PROXMOX_AGENT_GRANTS) {
    const wanted = rolePrivileges(grant);
    const path = `/access/roles/${encodeURIComponent(grant.role)}`;
    const current = await call(`reading role ${grant.role}`, async () => {
      try {
        return Object.keys((await root.get<Record<string, unknown>>(path)) ?? {}).filter((key) => key !== 'roleid').sort();
      } catch (error) {
        if (notFound(error)) return undefined;
        throw error;
      }
    });
    if (!current) {
      await call(`creating role ${grant.role}`, () => root.post('/access/roles', { roleid: grant.role, privs: wanted.join(',') }));
      change(`role ${grant.role} created: ${wanted.join(', ')}`);
    } else if (current.join(',') !== wanted.join(',')) {
      await call(`updating role ${grant.role}`, () => root.put(path, { privs: wanted.join(',') }));
      const added = wanted.filter((privilege) => !current.includes(privilege));
      const removed = current.filter((privilege) => !wanted.includes(privilege));
      change(`role ${grant.role} updated:${added.length ? ` added ${added.join(', ')}` : ''}${removed.length ? ` removed ${removed.join(', ')}` : ''}`);
    }
  }

  const group = await call(`reading group ${PROXMOX_AGENT_GROUP}`, async () => {
    try {
      return await root.get(`/access/groups/${PROXMOX_AGENT_GROUP}`);
    } catch (error) {
      if (notFound(error)) return undefined;
      throw error;
    }
  });
  if (!group) {
    await call(`creating group ${PROXMOX_AGENT_GROUP}`, () => root.post('/access/groups', { groupid: PROXMOX_AGENT_GROUP, comment: 'the Felhom agent (its token manages only this group)' }));
    change(`group ${PROXMOX_AGENT_GROUP} created`);
  }

  const userPath = `/access/users/${encodeURIComponent(PROXMOX_AGENT_USER)}`;
  const user = await call(`reading user ${PROXMOX_AGENT_USER}`, async () => {
    try {
      return await root.get<{ enable?: number; expire?: number; groups?: string[] | string }>(userPath);
    } catch (error) {
      if (notFound(error)) return undefined;
      throw error;
    }
  });
  if (!user) {
    await call(`creating user ${PROXMOX_AGENT_USER}`, () => root.post('/access/users', { userid: PROXMOX_AGENT_USER, groups: PROXMOX_AGENT_GROUP, comment: 'the Felhom agent: API token only, no password' }));
    change(`user ${PROXMOX_AGENT_USER} created in group ${PROXMOX_AGENT_GROUP}`);
  } else {
    const groups = Array.isArray(user.groups) ? user.groups : String(user.groups ?? '').split(',').filter(Boolean);
    if (!groups.includes(PROXMOX_AGENT_GROUP)) {
      await call(`adding ${PROXMOX_AGENT_USER} to ${PROXMOX_AGENT_GROUP}`, () => root.put(userPath, { groups: PROXMOX_AGENT_GROUP, append: 1 }));
      change(`user ${PROXMOX_AGENT_USER} added to group ${PROXMOX_AGENT_GROUP}`);
    }
    if (Number(user.enable ?? 1) === 0 || Number(user.expire ?? 0) !== 0) {
      await call(`enabling ${PROXMOX_AGENT_USER}`, () => root.put(userPath, { enable: 1, expire: 0 }));
      change(`user ${PROXMOX_AGENT_USER} was disabled or expiring: enabled, no expiry`);
    }
  }

  const tokenPath = `${userPath}/token/${PROXMOX_AGENT_TOKEN_ID}`;
  const existing = await call(`reading token ${PROXMOX_AGENT_TOKEN}`, async () => {
    try {
      return await root.get<{ privsep?: number }>(tokenPath);
    } catch (error) {
      if (notFound(error)) return undefined;
      throw error;
    }
  });
  let outcome: MintResult['token'] = 'kept';
  let reason: string | undefined;
  if (!existing) outcome = 'created';
  else if (Number(existing.privsep) !== 1) reason = 'it had no privilege separation';
  else if (storedTokenId(stored) !== PROXMOX_AGENT_TOKEN) reason = `its secret is not in ${tokenFile}`;
  else {
    const client = new PveApiClient({ endpoint: options.endpoint, token: stored!, ...tls });
    const works = await call(`checking the secret of ${PROXMOX_AGENT_TOKEN}`, () => client.get('/version').then(() => true, (error: unknown) => {
      if (error instanceof PveApiError && error.status === 401) return false;
      throw error;
    }));
    if (!works) reason = `the host refused the secret in ${tokenFile}`;
  }
  if (reason) outcome = 'regenerated';
  if (outcome !== 'kept') {
    if (outcome === 'regenerated') await call(`removing token ${PROXMOX_AGENT_TOKEN}`, () => root.delete(tokenPath));
    const made = await call(`creating token ${PROXMOX_AGENT_TOKEN}`, () => root.post<{ 'full-tokenid'?: string; value?: string }>(tokenPath, { privsep: 1, comment: 'Felhom agent (felhom agent proxmox-token)' }));
    if (typeof made?.value !== 'string' || !made.value) throw new ProxmoxTokenError('EPROXMOX_TOKEN', 'stalled', `creating token ${PROXMOX_AGENT_TOKEN}: the host answered without the token's value`);
    const previous = storedTokenId(stored);
    await mkdir(secrets, { recursive: true, mode: 0o700 });
    await writeFileDurably(tokenFile, `${PROXMOX_AGENT_TOKEN}=${made.value}\n`, 0o600);
    change(outcome === 'created' ? `token ${PROXMOX_AGENT_TOKEN} created (privilege-separated), written to ${tokenFile}` : `token ${PROXMOX_AGENT_TOKEN} regenerated because ${reason}; written to ${tokenFile}`);
    if (previous && previous !== PROXMOX_AGENT_TOKEN) change(`${tokenFile} held ${previous}, now replaced: revoke that one on the host if nothing else uses it`);
  } else say(`token ${PROXMOX_AGENT_TOKEN} kept: ${tokenFile} holds a secret the host accepts`);

  // ACLs: each role on its path for the user and the token, nothing else for either.
  const acl = await call('reading the ACLs', () => root.get<{ path: string; type: string; ugid: string; roleid: string; propagate?: number }[]>('/access/acl'));
  const ours = (acl ?? []).filter((entry) => (entry.type === 'user' && entry.ugid === PROXMOX_AGENT_USER) || (entry.type === 'token' && entry.ugid === PROXMOX_AGENT_TOKEN));
  for (const [type, ugid, field] of [['user', PROXMOX_AGENT_USER, 'users'], ['token', PROXMOX_AGENT_TOKEN, 'tokens']] as const) {
    for (const grant of PROXMOX_AGENT_GRANTS) {
      const entry = ours.find((candidate) => candidate.type === type && candidate.path === grant.path && candidate.roleid === grant.role);
      const propagate = grant.propagate ? 1 : 0;
      if (entry && Number(entry.propagate ?? 1) === propagate) continue;
      await call(`granting ${grant.role} on ${grant.path} to ${ugid}`, () => root.put('/access/acl', { path: grant.path, roles: grant.role, [field]: ugid, propagate }));
      change(`ACL ${grant.path} ${grant.role} ${entry ? 'now' : 'granted'} ${grant.propagate ? 'with' : 'without'} propagation for ${type} ${ugid}`);
    }
    for (const entry of ours.filter((candidate) => candidate.type === type && !PROXMOX_AGENT_GRANTS.some((grant) => grant.path === candidate.path && grant.role === candidate.roleid))) {
      await call(`removing ${entry.roleid} on ${entry.path} from ${ugid}`, () => root.put('/access/acl', { path: entry.path, roles: entry.roleid, [field]: ugid, delete: 1 }));
      change(`ACL ${entry.path} ${entry.roleid} removed from ${type} ${ugid} (not one of the agent's grants)`);
    }
  }

  // The minted token must work and see what its roles give: backup jobs need Sys.Audit on /.
  const minted = await readSecretFile(tokenFile);
  await call(`checking ${PROXMOX_AGENT_TOKEN}`, () => new PveApiClient({ endpoint: options.endpoint, token: minted!, ...tls }).get('/cluster/backup'));
  say(`${PROXMOX_AGENT_TOKEN} holds ${agentPrivileges().length} privileges on ${PROXMOX_AGENT_GRANTS.length} paths`);

  return {
    tokenId: PROXMOX_AGENT_TOKEN,
    tokenFile,
    token: outcome,
    changes,
    grants: PROXMOX_AGENT_GRANTS.map((grant) => ({ path: grant.path, role: grant.role, propagate: grant.propagate, privileges: rolePrivileges(grant) })),
  };
}
