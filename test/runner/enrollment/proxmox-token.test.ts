// The agent mints its own scoped Proxmox API token against the PVE simulator (which enforces
// PVE's permission checks): what it makes, that a rerun changes nothing, that drift is repaired,
// that a lost secret regenerates the token, that bad input names its field, and that the secret
// appears in no line, result or error.
import t from 'tap';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PveApiClient, PveApiError } from '../../../runner/agent/pve-api-client.js';
import { mintProxmoxToken, type MintOptions } from '../../../runner/enrollment/proxmox-token.js';
import { PROXMOX_AGENT_GRANTS, PROXMOX_AGENT_TOKEN } from '../../../runner/enrollment/proxmox-privileges.js';
import type { SimState } from '../../../runner/sim/proxmox/state.js';
import { startTestSimulator, type TestSimulator } from '../../helpers/pve-sim.js';

type Test = Parameters<Parameters<typeof t.test>[1]>[0];

async function setUp(t: Test): Promise<{ sim: TestSimulator; state: string; options: MintOptions; lines: string[] }> {
  const sim = await startTestSimulator(t);
  const state = await mkdtemp(join(tmpdir(), 'felhom-pve-token-'));
  t.teardown(() => rm(state, { recursive: true, force: true }));
  const lines: string[] = [];
  const options: MintOptions = { endpoint: sim.sim.url, rootToken: sim.sim.token, stateDir: state, ca: sim.sim.certificate, onStep: (line) => lines.push(line) };
  return { sim, state, options, lines };
}

async function hostState(sim: TestSimulator): Promise<SimState> {
  return sim.control<SimState>('GET', '/_sim/state');
}

function secretOf(token: string): string {
  return token.split('=')[1]!;
}

t.test('minting makes one role per path, the group and user, a privilege-separated token and its ACLs, and writes the token 0600', async (t) => {
  const { sim, state, options, lines } = await setUp(t);
  const result = await mintProxmoxToken(options);
  t.equal(result.token, 'created');
  t.equal(result.tokenId, 'felhom-agent@pve!agent');
  t.equal(result.tokenFile, join(state, 'secrets', 'proxmox-api-token'));
  const file = await readFile(result.tokenFile, 'utf8');
  t.match(file, /^felhom-agent@pve!agent=[0-9a-f-]{36}\n$/, 'USER@REALM!TOKENID=UUID, as host-access reads it');
  t.equal((await stat(result.tokenFile)).mode & 0o777, 0o600);

  const host = await hostState(sim);
  for (const grant of PROXMOX_AGENT_GRANTS) {
    t.same(host.roles[grant.role], grant.privileges.map((use) => use.privilege).sort(), `${grant.role} holds exactly its table's privileges`);
    for (const [type, ugid] of [['user', 'felhom-agent@pve'], ['token', 'felhom-agent@pve!agent']]) {
      t.same(host.acl.filter((entry) => entry.type === type && entry.ugid === ugid && entry.path === grant.path).map((entry) => [entry.roleid, entry.propagate]), [[grant.role, grant.propagate ? 1 : 0]], `${type} ACL on ${grant.path}`);
    }
  }
  t.same(host.users['felhom-agent@pve']?.groups, ['felhom-agent']);
  t.match(host.tokens.find((token) => token.userid === 'felhom-agent@pve'), { tokenid: 'agent', privsep: 1 });
  t.equal(host.acl.filter((entry) => entry.ugid.startsWith('felhom-agent@pve')).length, PROXMOX_AGENT_GRANTS.length * 2, 'no other ACL entry');

  const secret = secretOf(file.trim());
  t.notMatch(JSON.stringify(result), secret, 'the result does not carry the secret');
  t.notMatch(lines.join('\n'), secret, 'no step line carries it');
  t.notMatch(lines.join('\n'), secretOf(sim.sim.token), 'nor the root credential');
  t.ok(lines.some((line) => /token felhom-agent@pve!agent created/.test(line)));
});

t.test('a rerun changes nothing and keeps the token; drift is repaired and said', async (t) => {
  const { sim, options, lines } = await setUp(t);
  const first = await mintProxmoxToken(options);
  const token = await readFile(first.tokenFile, 'utf8');
  const again = await mintProxmoxToken(options);
  t.equal(again.token, 'kept');
  t.same(again.changes, [], 'nothing to change');
  t.equal(await readFile(first.tokenFile, 'utf8'), token, 'the file is as it was');
  t.ok(lines.some((line) => /kept: .* holds a secret the host accepts/.test(line)));

  // Someone widened one role and narrowed another, gave the user Administrator and changed a propagation.
  await sim.api.put('/access/roles/FelhomAgentGuests', { privs: 'VM.Audit,VM.Console' });
  await sim.api.put('/access/acl', { path: '/', roles: 'Administrator', users: 'felhom-agent@pve' });
  await sim.api.put('/access/acl', { path: '/vms', roles: 'FelhomAgentGuests', tokens: PROXMOX_AGENT_TOKEN, propagate: 0 });
  const repaired = await mintProxmoxToken(options);
  t.equal(repaired.token, 'kept');
  t.equal(repaired.changes.length, 3, 'three things differed');
  t.match(repaired.changes[0], /^role FelhomAgentGuests updated: added VM\.Allocate, VM\.Backup, .* removed VM\.Console$/);
  t.ok(repaired.changes.includes('ACL /vms FelhomAgentGuests now with propagation for token felhom-agent@pve!agent'));
  t.ok(repaired.changes.some((line) => /^ACL \/ Administrator removed from user felhom-agent@pve/.test(line)));
  const host = await hostState(sim);
  t.notOk(host.acl.some((entry) => entry.roleid === 'Administrator'), 'the extra grant is gone');
  t.same(host.roles.FelhomAgentGuests, PROXMOX_AGENT_GRANTS[0]!.privileges.map((use) => use.privilege).sort());
  t.same((await mintProxmoxToken(options)).changes, [], 'and then nothing differs');
});

t.test('a token whose secret the state lost, or that lost its privilege separation, is regenerated and the run says why', async (t) => {
  const { sim, options } = await setUp(t);
  const first = await mintProxmoxToken(options);
  const oldToken = (await readFile(first.tokenFile, 'utf8')).trim();
  await rm(first.tokenFile);
  const second = await mintProxmoxToken(options);
  t.equal(second.token, 'regenerated');
  t.match(second.changes, [/^token felhom-agent@pve!agent regenerated because its secret is not in .*proxmox-api-token; written to/]);
  const newToken = (await readFile(first.tokenFile, 'utf8')).trim();
  t.not(newToken, oldToken);
  const old = new PveApiClient({ endpoint: sim.sim.url, token: oldToken, ca: sim.sim.certificate });
  await t.rejects(old.get('/version'), { status: 401 }, 'the old secret is dead');
  t.equal((await hostState(sim)).acl.filter((entry) => entry.type === 'token').length, PROXMOX_AGENT_GRANTS.length, "the new token's ACLs are back (PVE drops a deleted token's)");

  // A wrong secret in the file (someone edited it), then a token without privilege separation.
  await writeFile(first.tokenFile, `${PROXMOX_AGENT_TOKEN}=00000000-0000-0000-0000-000000000000\n`, { mode: 0o600 });
  t.match((await mintProxmoxToken(options)).changes[0], /regenerated because the host refused the secret in/);
  await sim.api.delete(`/access/users/felhom-agent@pve/token/agent`);
  await sim.api.post(`/access/users/felhom-agent@pve/token/agent`, { privsep: 0 });
  t.match((await mintProxmoxToken(options)).changes[0], /regenerated because it had no privilege separation/);
  t.match((await hostState(sim)).tokens.find((token) => token.userid === 'felhom-agent@pve'), { privsep: 1 });
});

t.test('an older token in the state file (the hand-made root token) is replaced, and the run says to revoke it', async (t) => {
  const { options, state } = await setUp(t);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(state, 'secrets'), { recursive: true, mode: 0o700 });
  await writeFile(join(state, 'secrets', 'proxmox-api-token'), 'root@pam!felhom-agent=11111111-2222-3333-4444-555555555555\n', { mode: 0o600 });
  const result = await mintProxmoxToken(options);
  t.equal(result.token, 'created');
  t.ok(result.changes.some((line) => /held root@pam!felhom-agent, now replaced: revoke that one/.test(line)));
  t.notMatch(result.changes.join('\n'), '11111111-2222', 'not even the old secret is shown');
});

t.test('bad input is refused naming the field, before anything is sent, and never echoes the credential', async (t) => {
  const { sim, options } = await setUp(t);
  const secret = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
  await t.rejects(mintProxmoxToken({ ...options, endpoint: 'http://127.0.0.1:8006' }), { code: 'EPROXMOX_TOKEN_INPUT', kind: 'usage', message: /^endpoint: expected https/ });
  const malformed = await mintProxmoxToken({ ...options, rootToken: `root@pam ${secret}` }).catch((error: Error) => error);
  t.match(malformed, { code: 'EPROXMOX_TOKEN_INPUT', message: /^root credential: expected an API token/ });
  t.notMatch((malformed as Error).message, secret, 'the malformed credential is not echoed');
  await t.rejects(mintProxmoxToken({ ...options, rootToken: `${PROXMOX_AGENT_TOKEN}=${secret}` }), { message: /^root credential: felhom-agent@pve!agent is the token being minted/ });
  await t.rejects(mintProxmoxToken({ ...options, stateDir: join(options.stateDir, 'missing') }), { message: /^state: .* does not exist \(run felhom agent enroll first\)/ });
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(options.stateDir, 'secrets'), { recursive: true });
  await writeFile(join(options.stateDir, 'secrets', 'proxmox-api-token'), 'x\n');
  await chmod(join(options.stateDir, 'secrets', 'proxmox-api-token'), 0o644);
  await t.rejects(mintProxmoxToken(options), { code: 'EPROXMOX_TOKEN_INPUT', message: /^state: .*proxmox-api-token is readable by group or others/ });
  t.same((await hostState(sim)).roles, {}, 'nothing was made on the host');
});

t.test('a wrong or unprivileged root credential, and an unreachable host, are refused with what to do', async (t) => {
  const { sim, options } = await setUp(t);
  const wrong = `root@pam!felhom=${'0'.repeat(8)}-0000-0000-0000-000000000000`;
  const refused = await mintProxmoxToken({ ...options, rootToken: wrong }).catch((error: Error) => error);
  t.match(refused, { code: 'EPROXMOX_REFUSED', kind: 'stalled', fault: 'input', message: /checking the root credential: .*401.*root@pam without privilege separation/ });
  t.notMatch((refused as Error).message, '00000000-0000', 'the credential is not in the error');

  // A privilege-separated token of root@pam with no ACL of its own can do nothing.
  const made = await sim.api.post<{ value: string }>('/access/users/root@pam/token/weak', { privsep: 1 });
  await t.rejects(mintProxmoxToken({ ...options, rootToken: `root@pam!weak=${made.value}` }), { code: 'EPROXMOX_REFUSED', message: /creating role FelhomAgentGuests: .*403 Permission check failed \(\/access, Sys\.Modify\)/ });
  t.same((await hostState(sim)).roles, {}, 'nothing half-made');

  await t.rejects(mintProxmoxToken({ ...options, endpoint: 'https://127.0.0.1:1', timeoutMs: 2000 }), { code: 'EPROXMOX_UNREACHABLE', kind: 'waiting' });
});

t.test('the minted token reaches the host with the privileges of its roles only', async (t) => {
  const { sim, options } = await setUp(t);
  const result = await mintProxmoxToken(options);
  const token = (await readFile(result.tokenFile, 'utf8')).trim();
  const agent = new PveApiClient({ endpoint: sim.sim.url, token, ca: sim.sim.certificate });
  // Outside the grants: the host's node settings, other users, the ACL tree.
  await t.rejects(agent.get('/nodes/pve/status'), { status: 403, message: /Permission check failed \(\/nodes\/pve, Sys\.Audit\)/ });
  await t.rejects(agent.post('/access/users', { userid: 'intruder@pve' }), { status: 403 });
  await t.rejects(agent.post('/access/users/root@pam/token/stolen', {}), { status: 403 }, 'no token for root');
  await t.rejects(agent.put('/access/acl', { path: '/', roles: 'Administrator', tokens: PROXMOX_AGENT_TOKEN }), { status: 403 }, 'no way to widen its own ACLs');
  await t.rejects(agent.put('/access/roles/FelhomAgentGuests', { privs: 'VM.Console' }), { status: 403 }, 'nor its roles');
  t.same(await agent.get('/access/users/felhom-agent@pve/token'), [{ tokenid: 'agent', privsep: 1, expire: 0, comment: 'Felhom agent (felhom agent proxmox-token)' }], 'its own tokens it may see');
  t.ok(PveApiError);
});
