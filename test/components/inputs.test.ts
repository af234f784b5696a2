// Components used from another Pulumi program take outputs where a caller may have one
// (components/inputs.ts): plain args are still checked in the constructor; args holding outputs
// are checked once known, and a broken rule fails the child's registration with the same
// ComponentArgsError; a value a resource option needs must be plain, and says so.
import t from 'tap';
import * as pulumi from '@pulumi/pulumi';
import { argsErrorFrom, mocks, promiseOf } from '../helpers/mocks.js';
import { checkInputs, gated, holdsOutputs, plainFor } from '../../components/inputs.js';
import { ComponentArgsError, type Rule } from '../../components/validation.js';
import { CustomerLxc } from '../../components/customer-lxc.js';
import { BackupJob } from '../../components/backup-job.js';
import { StorageTarget } from '../../components/storage-target.js';
import { GeoWaf } from '../../components/geo-waf.js';
import { Tunnel, tunnelToken } from '../../components/tunnel.js';

const CONTAINER = 'proxmoxve:index/containerLegacy:ContainerLegacy';
const TEMPLATE = 'local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst';
const ACCOUNT = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const ZONE = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const FINGERPRINT = Array.from({ length: 32 }, (_, i) => (i * 7 % 256).toString(16).padStart(2, '0')).join(':');

/**
 * The errors a program's registration fails with: Pulumi surfaces a rejected input as unhandled
 * rejections (the language host reports them and fails the update). Collects them in place of
 * tap's own handler while `build` runs and the runtime settles, then gives that handler back.
 */
async function registrationFailure(build: () => unknown): Promise<unknown> {
  const taps = process.listeners('unhandledRejection');
  process.removeAllListeners('unhandledRejection');
  const reasons: unknown[] = [];
  process.on('unhandledRejection', (reason) => reasons.push(reason));
  try {
    build();
    await mocks.settle();
    for (let tick = 0; tick < 5; tick += 1) await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.removeAllListeners('unhandledRejection');
    for (const listener of taps) process.on('unhandledRejection', listener as (...args: unknown[]) => void);
  }
  if (reasons.length === 0) throw new Error('expected the registration to fail, it did not');
  // One failed check rejects several derived promises, all with the same error.
  if (reasons.some((reason) => reason !== reasons[0])) throw new Error(`expected one error, got ${reasons.map(String).join('; ')}`);
  return reasons[0];
}

t.beforeEach(() => mocks.reset());

t.test('holdsOutputs sees an output or a promise anywhere in plain objects and arrays', async (t) => {
  t.equal(holdsOutputs({ a: 'x', b: [1, { c: true }] }), false);
  t.equal(holdsOutputs({ a: 'x', b: [1, { c: pulumi.output(true) }] }), true);
  t.equal(holdsOutputs([Promise.resolve(1)]), true);
  t.equal(holdsOutputs(pulumi.secret('s')), true);
  t.equal(holdsOutputs(new Date(0)), false, 'only plain objects are looked into');
});

t.test('checkInputs checks plain args at once and gives no gate; gated passes a value through without one', async (t) => {
  const rules: Rule<{ n: number }>[] = [{ field: 'n', check: (a) => (a.n > 0 ? undefined : `expected a positive number, got ${a.n}`) }];
  t.equal(checkInputs('felhom:test:T', 'x', rules, { n: 1 }), undefined);
  const error = argsErrorFrom(t, () => checkInputs('felhom:test:T', 'x', rules, { n: 0 }));
  t.same(error?.problems, [{ field: 'n', message: 'expected a positive number, got 0' }]);
  t.equal(gated(undefined, 'v'), 'v');
  const deferred = await registrationFailure(() => t.ok(pulumi.Output.isInstance(checkInputs('felhom:test:T', 'x', rules, { n: 0, other: pulumi.output(1) }, ['other'])), 'a watched output defers the check to a gate'));
  t.type(deferred, ComponentArgsError, 'which fails once the values are known');
  t.throws(() => checkInputs('felhom:test:T', 'x', rules, { n: 0, other: pulumi.output(1) }, ['n']), ComponentArgsError, 'an output outside the watched fields does not');
});

t.test('the gate of a secret input is not secret, and resolves to true when every rule holds', async (t) => {
  const gate = checkInputs('felhom:test:T', 'x', [], { password: pulumi.secret('hunter2') })!;
  t.equal(await pulumi.isSecret(gate), false);
  t.equal(await promiseOf(gate), true);
});

t.test('plainFor refuses an output with a ComponentArgsError naming the field and why', async (t) => {
  t.equal(plainFor('felhom:test:T', 'x', 'node', 'an import id', 'pve'), 'pve');
  const error = argsErrorFrom(t, () => plainFor('felhom:test:T', 'x', 'node', 'an import id', pulumi.output('pve')));
  t.same(error?.problems, [{ field: 'node', message: 'expected a plain value, got an output (an import id)' }]);
});

t.test('given outputs for its node, hostname and template, the customer LXC is created with their values', async (t) => {
  const lxc = new CustomerLxc('cust', { node: pulumi.output('pve'), vmId: 120, hostname: Promise.resolve('cust-0001'), osTemplateFileId: pulumi.output(TEMPLATE), description: pulumi.output('the Kovács family') });
  await mocks.settle();
  const ct = mocks.one(CONTAINER, 'cust-container');
  t.match(ct.inputs, { nodeName: 'pve', vmId: 120, description: 'the Kovács family', initialization: { hostname: 'cust-0001' }, operatingSystem: { templateFileId: TEMPLATE } });
  t.equal(ct.protect, true, 'still protected');
  t.equal(await promiseOf(lxc.hostname), 'cust-0001');
});

t.test('given an output hostname that breaks a rule, the container is never registered and the update fails with the rule', async (t) => {
  const reason = await registrationFailure(() => new CustomerLxc('cust', { node: pulumi.output('pve'), vmId: 120, hostname: pulumi.output('Bad_Host!'), osTemplateFileId: TEMPLATE }));
  await mocks.settle();
  t.type(reason, ComponentArgsError);
  t.same((reason as ComponentArgsError).problems.map((p) => p.field), ['hostname']);
  t.same(mocks.find(CONTAINER), [], 'no container');
});

t.test('adopting an existing container needs a plain node: the import id is a resource option', async (t) => {
  const error = argsErrorFrom(t, () => new CustomerLxc('cust', { node: pulumi.output('pve'), vmId: 120, hostname: 'cust-0001', osTemplateFileId: TEMPLATE, adoptExisting: true }));
  t.equal(error?.problems[0]?.field, 'node');
  t.match(error?.problems[0]?.message, /plain value, got an output.*adoptExisting/);
  await mocks.settle();
  t.same(mocks.find(CONTAINER), [], 'nothing registered');
});

t.test('a backup job takes a StorageTarget id and CustomerLxc vm ids as outputs', async (t) => {
  const storage = new StorageTarget('nas', { type: 'nfs', storageId: 'nas', class: 'slow', roles: ['backup'], server: pulumi.output('nas.lan'), export: '/volume1/felhom' });
  const lxc = new CustomerLxc('cust', { node: 'pve', vmId: 120, hostname: 'cust-0001', osTemplateFileId: TEMPLATE });
  new BackupJob('nightly', { jobId: 'felhom-nightly', storage: storage.storageId, schedule: '*-*-* 02:30', vmIds: [lxc.vmId], keepDaily: 7 });
  await mocks.settle();
  t.match(mocks.one('proxmoxve:storage/nfs:Nfs', 'nas-storage').inputs, { server: 'nas.lan', export: '/volume1/felhom', contents: ['backup'] });
  t.match(mocks.one('proxmoxve:backup/job:Job', 'nightly-job').inputs, { storage: 'nas', vmids: ['120'], notesTemplate: '{{guestname}} (felhom)' });
});

t.test('a backup job given an output storage that breaks a rule fails with the rule', async (t) => {
  const reason = await registrationFailure(() => new BackupJob('nightly', { jobId: 'felhom-nightly', storage: pulumi.output('no such/storage'), schedule: '*-*-* 02:30', vmIds: [pulumi.output(5)], keepDaily: 7 }));
  await mocks.settle();
  t.type(reason, ComponentArgsError);
  t.same((reason as ComponentArgsError).problems.map((p) => p.field).sort(), ['storage', 'vmIds']);
  t.same(mocks.find('proxmoxve:backup/job:Job'), []);
});

t.test('a PBS storage given an output fingerprint checks it once known, never echoing the secrets', async (t) => {
  const reason = await registrationFailure(() => new StorageTarget('offsite', {
    type: 'pbs', storageId: 'offsite', class: 'slow', roles: ['backup'], server: 'pbs.example.com', datastore: 'customers',
    fingerprint: pulumi.output('x'), username: 'agent@pbs', password: pulumi.secret('hunter2'), encryptionKey: pulumi.secret('{"kdf":null}'),
  }));
  await mocks.settle();
  t.type(reason, ComponentArgsError);
  t.same((reason as ComponentArgsError).problems.map((p) => p.field), ['fingerprint']);
  t.notMatch((reason as Error).message, /hunter2/);
  new StorageTarget('offsite', {
    type: 'pbs', storageId: 'offsite', class: 'slow', roles: ['backup'], server: pulumi.output('pbs.example.com'), datastore: 'customers',
    fingerprint: pulumi.output(FINGERPRINT), username: 'agent@pbs', password: pulumi.secret('hunter2'), encryptionKey: pulumi.secret('{"kdf":null}'),
  });
  await mocks.settle();
  t.match(mocks.one('proxmoxve:storage/pbs:Pbs', 'offsite-storage').inputs, { server: 'pbs.example.com', fingerprint: FINGERPRINT });
});

t.test('the geo rule and the tunnel take zone and account ids as outputs', async (t) => {
  new GeoWaf('geo', { zoneId: pulumi.output(ZONE), mode: 'allow', countries: ['HU'] });
  const tunnel = new Tunnel('tunnel', { accountId: pulumi.output(ACCOUNT), zoneId: pulumi.output(ZONE), tunnelName: 'felhom-hb-0001', routes: [{ hostname: 'photos.example.com', service: 'http://192.168.1.50:80' }] });
  await mocks.settle();
  t.match(mocks.one('cloudflare:index/ruleset:Ruleset', 'geo-ruleset').inputs, { zoneId: ZONE, description: 'Managed by the Felhom hub: geo restriction from the box spec' });
  const made = mocks.one('cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared', 'tunnel-tunnel');
  t.match(made.inputs, { accountId: ACCOUNT, name: 'felhom-hb-0001' });
  t.match(mocks.one('cloudflare:index/dnsRecord:DnsRecord', 'tunnel-dns-photos-example-com').inputs, { zoneId: ZONE });
  const [id, token] = await Promise.all([promiseOf(tunnel.tunnelId), promiseOf(tunnel.tunnelToken)]);
  t.equal(JSON.parse(Buffer.from(token, 'base64').toString()).a, ACCOUNT, 'the token carries the resolved account id');
  t.ok(token.startsWith(tunnelToken(ACCOUNT, id, '').slice(0, 10)), 'in cloudflared\'s token format');
});

t.test('a tunnel given an output zone id that breaks a rule fails with the rule', async (t) => {
  const reason = await registrationFailure(() => new Tunnel('tunnel', { accountId: ACCOUNT, zoneId: pulumi.output('nope'), tunnelName: 'felhom-hb-0001', routes: [{ hostname: 'photos.example.com', service: 'http://192.168.1.50:80' }] }));
  await mocks.settle();
  t.type(reason, ComponentArgsError);
  t.same((reason as ComponentArgsError).problems.map((p) => p.field), ['zoneId']);
});
