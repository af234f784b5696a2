// The simulator's user.cfg and PVE's permission model: roles, users, groups, ACLs (propagation,
// the deeper entry winning, groups, NoAccess), privilege-separated tokens (their ACLs meet their
// user's), and the refusals of the access API, each as PVE words them.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PveApiClient } from '../../../../runner/agent/pve-api-client.js';
import { Access, normalizeAclPath, splitTokenId } from '../../../../runner/sim/proxmox/access.js';
import { initialState, StateStore, type SimState } from '../../../../runner/sim/proxmox/state.js';
import { rawRequest, startTestSimulator, type TestSimulator } from '../../../helpers/pve-sim.js';

type Test = Parameters<Parameters<typeof t.test>[1]>[0];

/** A user with a privilege-separated token; returns a client holding the token. */
async function userWithToken(sim: TestSimulator, userid: string, privsep = 1): Promise<PveApiClient> {
  await sim.api.post('/access/users', { userid });
  const made = await sim.api.post<{ value: string; 'full-tokenid': string }>(`/access/users/${userid}/token/tk`, { privsep });
  return new PveApiClient({ endpoint: sim.sim.url, token: `${made['full-tokenid']}=${made.value}`, ca: sim.sim.certificate, pollMs: 20 });
}

async function started(t: Test): Promise<TestSimulator> {
  const sim = await startTestSimulator(t);
  await sim.api.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: 200, ostemplate: 'local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst', rootfs: 'local-lvm:8' });
  await sim.api.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: 201, ostemplate: 'local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst', rootfs: 'local-lvm:8' });
  await sim.api.post('/access/roles', { roleid: 'Reader', privs: 'VM.Audit' });
  return sim;
}

t.test('ACLs propagate only when they say so, the deepest level naming the user wins, and NoAccess takes all', async (t) => {
  const sim = await started(t);
  const reader = await userWithToken(sim, 'reader@pve', 0);
  await t.rejects(reader.get('/nodes/pve/lxc/200/config'), { status: 403, message: /Permission check failed \(\/vms\/200, VM\.Audit\)/ }, 'nothing without an ACL');
  t.same(await reader.get('/nodes/pve/lxc'), [], 'and the list shows nothing');

  await sim.api.put('/access/acl', { path: '/vms', roles: 'Reader', users: 'reader@pve', propagate: 0 });
  await t.rejects(reader.get('/nodes/pve/lxc/200/config'), { status: 403 }, 'an ACL without propagation stays on its path');
  await sim.api.put('/access/acl', { path: '/vms', roles: 'Reader', users: 'reader@pve', propagate: 1 });
  t.match(await reader.get('/nodes/pve/lxc/200/config'), { rootfs: /local-lvm/ }, 'propagated to /vms/200');
  t.equal((await reader.get<unknown[]>('/nodes/pve/lxc')).length, 2);

  await sim.api.put('/access/acl', { path: '/vms/201', roles: 'NoAccess', users: 'reader@pve' });
  await t.rejects(reader.get('/nodes/pve/lxc/201/config'), { status: 403 }, 'NoAccess on the deeper path');
  t.same((await reader.get<{ vmid: number }[]>('/nodes/pve/lxc')).map((guest) => guest.vmid), [200]);

  // A group's ACL counts when the user has none at that level.
  await sim.api.post('/access/groups', { groupid: 'ops' });
  await sim.api.post('/access/users', { userid: 'member@pve', groups: 'ops' });
  await sim.api.put('/access/acl', { path: '/vms/200', roles: 'Reader', groups: 'ops' });
  const member = new PveApiClient({ endpoint: sim.sim.url, token: `member@pve!tk=${(await sim.api.post<{ value: string }>('/access/users/member@pve/token/tk', { privsep: 0 })).value}`, ca: sim.sim.certificate });
  t.match(await member.get('/nodes/pve/lxc/200/status/current'), { vmid: 200 });
  await t.rejects(member.get('/nodes/pve/lxc/201/status/current'), { status: 403 });
});

t.test("a privilege-separated token holds what its ACLs and its user's both give", async (t) => {
  const sim = await started(t);
  const token = await userWithToken(sim, 'sep@pve', 1);
  await sim.api.put('/access/acl', { path: '/vms', roles: 'Administrator', tokens: 'sep@pve!tk' });
  await t.rejects(token.get('/nodes/pve/lxc/200/config'), { status: 403 }, "the token's Administrator is nothing while its user holds nothing");
  await sim.api.put('/access/acl', { path: '/vms', roles: 'Reader', users: 'sep@pve' });
  t.match(await token.get('/nodes/pve/lxc/200/config'), { rootfs: /local-lvm/ }, 'VM.Audit, which both hold');
  await t.rejects(token.post('/nodes/pve/lxc/200/snapshot', { snapname: 'x1' }), { status: 403, message: /VM\.Snapshot/ }, 'not what only the token holds');

  // Tasks: one's own, or Sys.Audit on the node.
  const upid = await sim.api.post<string>('/nodes/pve/lxc/200/snapshot', { snapname: 'byroot' });
  await t.rejects(token.get(`/nodes/pve/tasks/${encodeURIComponent(upid)}/status`), { status: 403, message: /\/nodes\/pve, Sys\.Audit/ }, "root's task is not the token's to read");
  t.same(await token.get('/nodes/pve/tasks'), [], 'nor listed');
});

t.test('a disabled, expired or deleted user takes its tokens with it; a deleted token takes its ACLs', async (t) => {
  const sim = await started(t);
  const token = await userWithToken(sim, 'gone@pve', 1);
  await sim.api.put('/access/acl', { path: '/vms', roles: 'Reader', users: 'gone@pve', tokens: 'gone@pve!tk' });
  t.ok(await token.get('/version'));
  await sim.api.put('/access/users/gone@pve', { enable: 0 });
  await t.rejects(token.get('/version'), { status: 401 }, 'disabled');
  await sim.api.put('/access/users/gone@pve', { enable: 1, expire: 1000 });
  await t.rejects(token.get('/version'), { status: 401 }, 'expired');
  await sim.api.put('/access/users/gone@pve', { expire: 0 });
  t.ok(await token.get('/version'));
  await sim.api.delete('/access/users/gone@pve/token/tk');
  t.same((await sim.api.get<{ ugid: string }[]>('/access/acl')).map((entry) => entry.ugid), ['gone@pve'], "the token's ACL went with it");
  await sim.api.delete('/access/users/gone@pve');
  t.same(await sim.api.get('/access/acl'), [], "and the user's with the user");
  await t.rejects(sim.api.get('/access/users/gone@pve'), { status: 500, message: /no such user \('gone@pve'\)/ });
});

t.test("the access API refuses what PVE refuses, in PVE's words", async (t) => {
  const sim = await started(t);
  const { api } = sim;
  await t.rejects(api.post('/access/roles', { roleid: 'PVEMine' }), { status: 400, errors: { roleid: "cannot use role ID starting with the (case-insensitive) 'PVE' namespace" } });
  await t.rejects(api.post('/access/roles', { roleid: 'Reader' }), { status: 500, message: /role 'Reader' already exists/ });
  await t.rejects(api.post('/access/roles', { roleid: 'Bad', privs: 'VM.Audit,VM.Fly' }), { status: 400, errors: { privs: "invalid format - invalid privilege 'VM.Fly'" } });
  await t.rejects(api.post('/access/roles', { roleid: 'bad name' }), { status: 400, errors: { roleid: /role name 'bad name' contains invalid characters/ } }, 'the schema check knows pve-roleid');
  await t.rejects(api.put('/access/roles/Administrator', { privs: 'VM.Audit' }), { status: 500, message: /auto-generated role 'Administrator' cannot be modified/ });
  await t.rejects(api.put('/access/roles/Nope', { privs: 'VM.Audit' }), { status: 500, message: /role 'Nope' does not exist/ });
  await api.put('/access/roles/Reader', { privs: 'VM.Config.Options', append: 1 });
  t.same(await api.get('/access/roles/Reader'), { 'VM.Audit': 1, 'VM.Config.Options': 1 }, 'append adds');
  t.match(await api.get('/access/roles'), [{ roleid: 'Administrator', special: 1 }, { roleid: 'NoAccess', privs: '', special: 1 }, { roleid: 'Reader', privs: 'VM.Audit,VM.Config.Options', special: 0 }]);
  t.equal((await api.get<Record<string, number>>('/access/roles/Administrator'))['Sys.Modify'], 1, "Administrator holds every privilege of PVE's schema");
  await t.rejects(api.delete('/access/roles/NoAccess'), { status: 500 });
  await t.rejects(api.get('/access/roles/Nope'), { status: 500, message: /role 'Nope' does not exist/ });

  await t.rejects(api.post('/access/users', { userid: 'x@ldap' }), { status: 500, message: /domain 'ldap' does not exist/ });
  await t.rejects(api.post('/access/users', { userid: 'x@pve', groups: 'nope' }), { status: 500, message: /no such group 'nope'/ });
  await api.post('/access/users', { userid: 'x@pve', comment: 'someone' });
  await t.rejects(api.post('/access/users', { userid: 'x@pve' }), { status: 500, message: /user 'x@pve' already exists/ });
  await t.rejects(api.post('/access/users/x@pve/token/tk', { privsep: 2 }), { status: 400 }, 'privsep is a boolean');
  await api.post('/access/users/x@pve/token/tk', {});
  await t.rejects(api.post('/access/users/x@pve/token/tk', {}), { status: 400, errors: { tokenid: 'Token already exists.' } });
  t.match(await api.get('/access/users/x@pve'), { enable: 1, comment: 'someone', groups: [], tokens: { tk: { privsep: 1 } } });
  t.match(await api.get('/access/users', { full: 1 }), [{ userid: 'root@pam' }, { userid: 'x@pve', tokens: [{ tokenid: 'tk' }] }]);
  await t.rejects(api.post('/access/groups', { groupid: 'a b' }), { status: 400 });
  await api.post('/access/groups', { groupid: 'g1', comment: 'one' });
  await t.rejects(api.post('/access/groups', { groupid: 'g1' }), { status: 500, message: /group 'g1' already exists/ });
  await api.put('/access/users/x@pve', { groups: 'g1', append: 1 });
  t.same(await api.get('/access/groups/g1'), { comment: 'one', members: ['x@pve'] });
  t.match(await api.get('/access/groups'), [{ groupid: 'g1', users: 'x@pve' }]);

  await t.rejects(api.put('/access/acl', { path: '/nowhere', roles: 'Reader', users: 'x@pve' }), { status: 400, errors: { path: "invalid ACL path '/nowhere'" } });
  await t.rejects(api.put('/access/acl', { path: '/vms', roles: 'Nope', users: 'x@pve' }), { status: 500, message: /role 'Nope' does not exist/ });
  await t.rejects(api.put('/access/acl', { path: '/vms', roles: 'Reader', users: 'y@pve' }), { status: 500, message: /user 'y@pve' does not exist/ });
  await t.rejects(api.put('/access/acl', { path: '/vms', roles: 'Reader', groups: 'g2' }), { status: 500, message: /group 'g2' does not exist/ });
  await t.rejects(api.put('/access/acl', { path: '/vms', roles: 'Reader', tokens: 'x@pve!nope' }), { status: 500, message: /no such token 'nope' for user 'x@pve'/ });
  await t.rejects(api.put('/access/acl', { path: '/vms', roles: 'Reader', tokens: 'not-a-token' }), { status: 400 }, 'the schema check knows pve-tokenid');
  await api.put('/access/acl', { path: '//vms/', roles: 'Reader', groups: 'g1' });
  t.same(await api.get('/access/acl'), [{ path: '/vms', type: 'group', ugid: 'g1', roleid: 'Reader', propagate: 1 }], 'the path is normalised');
  await api.put('/access/acl', { path: '/vms', roles: 'Reader', groups: 'g1', delete: 1 });
  await api.delete('/access/groups/g1');
  t.same((await api.get<{ groups: string[] }>('/access/users/x@pve')).groups, [], 'the group left its members');
  await api.put('/access/acl', { path: '/storage', roles: 'Reader', users: 'x@pve' });
  await api.delete('/access/roles/Reader');
  t.same(await api.get('/access/acl'), [], "a removed role's ACLs go with it");
});

t.test('without Permissions.Modify one may hand out only privileges one holds, and sees only ACLs one may change', async (t) => {
  const sim = await started(t);
  await sim.api.post('/access/roles', { roleid: 'Owner', privs: 'VM.Allocate,VM.Audit' });
  const owner = await userWithToken(sim, 'owner@pve', 0);
  await sim.api.post('/access/users', { userid: 'friend@pve' });
  await sim.api.put('/access/acl', { path: '/vms/200', roles: 'Owner', users: 'owner@pve' });
  await sim.api.put('/access/acl', { path: '/vms/201', roles: 'Reader', users: 'friend@pve' });
  await owner.put('/access/acl', { path: '/vms/200', roles: 'Reader', users: 'friend@pve' });
  await t.rejects(owner.put('/access/acl', { path: '/vms/200', roles: 'Administrator', users: 'friend@pve' }), { status: 400, errors: { role: "Cannot add role 'Administrator' - requires 'Permissions.Modify' or superset of privileges." } });
  await t.rejects(owner.put('/access/acl', { path: '/vms/200', roles: 'NoAccess', users: 'friend@pve' }), { status: 400, errors: { role: "Cannot add role 'NoAccess' - requires 'Permissions.Modify'" } });
  await t.rejects(owner.put('/access/acl', { path: '/vms/201', roles: 'Reader', users: 'friend@pve' }), { status: 403, message: /\/vms\/201, Permissions\.Modify/ });
  t.same((await owner.get<{ path: string }[]>('/access/acl')).map((entry) => entry.path), ['/vms/200', '/vms/200'], 'only the ACLs of /vms/200');
  t.same((await owner.get<{ userid: string }[]>('/access/users')).map((entry) => entry.userid), ['owner@pve'], 'only itself among the users');
  await t.rejects(owner.post('/access/roles', { roleid: 'Mine' }), { status: 403, message: /\(\/access, Sys\.Modify\)/ });
  await t.rejects(owner.post('/access/users', { userid: 'new@pve' }), { status: 403, message: /\/access\/realm\/pve, Realm\.AllocateUser/ });
  // userid-param self compares the authenticated id, which for a token is `owner@pve!tk`: a token
  // is not its user, so it needs User.Modify over its user's group (the agent's FelhomAgentSelf).
  await t.rejects(owner.get('/access/users/owner@pve/token'), { status: 403 }, "a token may not list its own user's tokens by being 'self'");
  await t.rejects(owner.get('/access/users/friend@pve/token'), { status: 403 }, "nor another's");
  await t.rejects(owner.get('/cluster/nextid/../../access/ticket'), { status: 501 });
});

t.test("a method whose schema gives no permissions is root@pam's, and unknown permission tests are a simulator error", async (t) => {
  const state = initialState({ token: 'root@pam!felhom=11111111-2222-3333-4444-555555555555' });
  const someone = new Access(state, ['VM.Audit'], 'someone@pve');
  t.throws(() => someone.checkMethod({ method: 'GET', name: 'x' }, {}), { status: 403, message: 'Permission check failed (user != root@pam)' });
  t.doesNotThrow(() => new Access(state, [], 'root@pam!felhom').checkMethod({ method: 'GET', name: 'x' }, {}), "root@pam's own token without privilege separation");
  t.doesNotThrow(() => new Access(state, [], 'root@pam').checkMethod({ method: 'GET', name: 'x' }, {}));
  t.throws(() => someone.runCheck(['fly'], {}), /does not know PVE's permission test "fly"/);
  t.throws(() => someone.checkMethod({ method: 'GET', name: 'x', permissions: {} } as never, {}), { status: 403 });
  t.equal(someone.runCheck(['perm', '/vms/{vmid}', ['VM.Audit'], 'require_param', 'vmid'], {}, true), false, 'a required parameter missing');
  t.equal(normalizeAclPath('vms//200/'), '/vms/200');
  t.equal(normalizeAclPath('/vms/$x'), undefined);
  t.equal(splitTokenId('root@pam'), undefined);
  t.same(new Access(state, ['VM.Audit'], 'nobody@pve!tk').privileges('/vms'), new Set(), 'a token that does not exist holds nothing');
});

t.test('a state file written before the simulator kept user.cfg gets root@pam and its token owners as users', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'felhom-sim-access-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'state.json');
  const { users: _users, groups: _groups, roles: _roles, acl: _acl, ...old } = initialState({ token: 'agent@pve!ag=11111111-2222-3333-4444-555555555555' }) as SimState & Record<string, unknown>;
  await writeFile(file, JSON.stringify(old));
  const store = await StateStore.open(file);
  t.same(Object.keys(store.state.users).sort(), ['agent@pve', 'root@pam']);
  t.same(store.state.acl, []);
  const sim = await startTestSimulator(t, { stateFile: file });
  const reply = await rawRequest(sim.sim, 'GET', '/api2/json/version');
  t.equal(reply.status, 200, "the token's owner still authenticates");
});
