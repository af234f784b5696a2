import t from 'tap';
import * as pulumi from '@pulumi/pulumi';
import { argsErrorFrom, mocks, promiseOf } from '../helpers/mocks.js';
import {
  StorageTarget,
  contentsForRoles,
  storageTargetRules,
  type CifsStorageTargetArgs,
  type DirStorageTargetArgs,
  type NfsStorageTargetArgs,
  type PbsStorageTargetArgs,
  type StorageTargetArgs,
} from '../../components/storage-target.js';
import { checkRules } from '../../components/validation.js';

const FINGERPRINT = Array.from({ length: 32 }, (_, i) => (i * 7 % 256).toString(16).padStart(2, '0')).join(':');

const dir: DirStorageTargetArgs = { type: 'dir', storageId: 'usb1', class: 'slow', iops: 150, roles: ['bulk', 'backup'], path: '/mnt/felhom/usb1' };
const nfs: NfsStorageTargetArgs = { type: 'nfs', storageId: 'nas', class: 'slow', roles: ['backup'], server: 'nas.lan', export: '/volume1/felhom' };
const cifs: CifsStorageTargetArgs = { type: 'cifs', storageId: 'smb', class: 'slow', roles: ['bulk'], server: '192.168.1.20', share: 'felhom', username: 'felhom', password: 'smb-password' };
const pbs: PbsStorageTargetArgs = {
  type: 'pbs',
  storageId: 'offsite',
  class: 'slow',
  roles: ['backup'],
  server: 'pbs.felhom.hu',
  datastore: 'customers',
  fingerprint: FINGERPRINT,
  namespace: 'customers/cust-0001',
  username: 'felhom-hb-0001@pbs',
  password: pulumi.secret('pbs-password'),
  encryptionKey: pulumi.secret('{"kdf":"scrypt"}'),
};

t.beforeEach(() => mocks.reset());

t.test('roles map to Proxmox content types, each once', async (t) => {
  t.same(contentsForRoles(['bulk']), ['rootdir']);
  t.same(contentsForRoles(['backup']), ['backup']);
  t.same(contentsForRoles(['rootfs']), ['images', 'rootdir']);
  t.same(contentsForRoles(['templates']), ['iso', 'vztmpl']);
  t.same(contentsForRoles(['bulk', 'rootfs', 'backup']), ['backup', 'images', 'rootdir']);
});

t.test('given a dir target, a Directory storage is created that never creates its own base path', async (t) => {
  const target = new StorageTarget('usb1', { ...dir, nodes: ['pve'] });
  await mocks.settle();
  t.same(mocks.inventory(), ['felhom:host:StorageTarget::usb1', 'proxmoxve:storage/directory:Directory::usb1-storage']);
  const storage = mocks.one('proxmoxve:storage/directory:Directory');
  t.same(storage.inputs, { resourceId: 'usb1', contents: ['backup', 'rootdir'], nodes: ['pve'], path: '/mnt/felhom/usb1', createBasePath: false });
  t.equal(storage.deleteBeforeReplace, true, 'the storage id is unique, so the old definition goes first');
  t.equal(storage.parent, mocks.one('felhom:host:StorageTarget').urn);
  t.equal(await promiseOf(target.storageClass), 'slow', 'the class is recorded');
  t.equal(await promiseOf(target.iops), 150);
  t.same(await promiseOf(target.contents), ['backup', 'rootdir']);
  t.same(await promiseOf(target.roles), ['bulk', 'backup']);
  t.equal(await promiseOf(target.storageType), 'dir');
  t.equal(await promiseOf(target.storageId), 'usb1');
});

t.test('given an nfs target, an Nfs storage is created with NFS 4.2 by default', async (t) => {
  new StorageTarget('nas', nfs);
  await mocks.settle();
  const storage = mocks.one('proxmoxve:storage/nfs:Nfs', 'nas-storage');
  t.same(storage.inputs, { resourceId: 'nas', contents: ['backup'], server: 'nas.lan', export: '/volume1/felhom', options: 'vers=4.2' });
});

t.test('given a cifs target, the password reaches the Cifs storage as a secret', async (t) => {
  new StorageTarget('smb', { ...cifs, domain: 'WORKGROUP' });
  await mocks.settle();
  const storage = mocks.one('proxmoxve:storage/cifs:Cifs', 'smb-storage');
  t.match(storage.inputs, { resourceId: 'smb', contents: ['rootdir'], server: '192.168.1.20', share: 'felhom', username: 'felhom', password: 'smb-password', domain: 'WORKGROUP' });
  t.same(storage.secretPaths, ['password'], 'a plain-string password is made secret');
});

t.test('given a pbs target, password and encryption key are secrets and the namespace is set', async (t) => {
  new StorageTarget('offsite', pbs);
  await mocks.settle();
  const storage = mocks.one('proxmoxve:storage/pbs:Pbs', 'offsite-storage');
  t.match(storage.inputs, {
    resourceId: 'offsite',
    contents: ['backup'],
    server: 'pbs.felhom.hu',
    datastore: 'customers',
    fingerprint: FINGERPRINT,
    namespace: 'customers/cust-0001',
    username: 'felhom-hb-0001@pbs',
  });
  t.same([...storage.secretPaths].sort(), ['encryptionKey', 'password']);
});

function withArgs<A extends StorageTargetArgs>(base: A, patch: Partial<A>): A {
  return { ...base, ...patch };
}

const broken: [string, StorageTargetArgs, string, RegExp][] = [
  ['a storage id starting with a digit', withArgs(dir, { storageId: '1usb' }), 'storageId', /storage id.*got "1usb"/],
  ['an unknown type', { ...dir, type: 'zfs' } as unknown as StorageTargetArgs, 'type', /dir, nfs, cifs, pbs, got "zfs"/],
  ['an unknown class', withArgs(dir, { class: 'medium' as 'fast' }), 'class', /fast or slow, got "medium"/],
  ['zero IOPS', withArgs(dir, { iops: 0 }), 'iops', /got 0/],
  ['no roles', withArgs(dir, { roles: [] }), 'roles', /at least one of bulk, backup, rootfs, templates/],
  ['an unknown role', withArgs(dir, { roles: ['media' as 'bulk'] }), 'roles', /got \["media"\]/],
  ['a repeated role', withArgs(dir, { roles: ['bulk', 'bulk'] }), 'roles', /each role once/],
  ['rootfs on slow storage', withArgs(dir, { roles: ['rootfs'] }), 'roles', /class fast for a storage with the rootfs role, got "slow"/],
  ['a pbs storage holding bulk data', withArgs(pbs, { roles: ['backup', 'bulk'] }), 'roles', /only the backup role on a pbs storage/],
  ['an empty nodes list', withArgs(dir, { nodes: [] }), 'nodes', /non-empty list of node names/],
  ['a relative dir path', withArgs(dir, { path: 'mnt/usb1' }), 'path', /expected an absolute path/],
  ['a dir path in a system directory', withArgs(dir, { path: '/var/lib/vz' }), 'path', /under \/mnt\/<name>.*not a system directory/],
  ['a dir path climbing out of /mnt', withArgs(dir, { path: '/mnt/../etc' }), 'path', /without "\." or "\.\." segments/],
  ['a server with a space', withArgs(nfs, { server: 'nas lan' }), 'server', /host name or IPv4 address, got "nas lan"/],
  ['a relative export', withArgs(nfs, { export: 'volume1' }), 'export', /absolute export path/],
  ['a share with slashes', withArgs(cifs, { share: '//nas/felhom' }), 'share', /without slashes/],
  ['an empty SMB user', withArgs(cifs, { username: '' }), 'username', /SMB user name/],
  ['a PBS user without realm', withArgs(pbs, { username: 'felhom' }), 'username', /name@realm/],
  ['an empty SMB password', withArgs(cifs, { password: '' }), 'password', /expected a password/],
  ['a bad datastore', withArgs(pbs, { datastore: '' }), 'datastore', /PBS datastore name/],
  ['a short fingerprint', withArgs(pbs, { fingerprint: 'ab:cd' }), 'fingerprint', /32 colon-separated hex bytes, got "ab:cd"/],
  ['a namespace with a leading slash', withArgs(pbs, { namespace: '/customers' }), 'namespace', /PBS namespace/],
  ['no encryption key', withArgs(pbs, { encryptionKey: '' }), 'encryptionKey', /offsite backups are always encrypted/],
];

for (const [what, args, field, message] of broken) {
  t.test(`given ${what}, validation names ${field}`, async (t) => {
    const problems = checkRules(storageTargetRules, args);
    t.equal(problems.length, 1, 'exactly one rule breaks');
    t.equal(problems[0]?.field, field);
    t.match(problems[0]?.message, message);
  });
}

t.test('given each valid kind, no rule breaks', async (t) => {
  for (const args of [dir, nfs, cifs, pbs]) t.same(checkRules(storageTargetRules, args), [], args.type);
});

t.test('given invalid args, the constructor throws and registers nothing; no secret is echoed', async (t) => {
  const error = argsErrorFrom(t, () => new StorageTarget('offsite', withArgs(pbs, { password: 'hunter2', fingerprint: 'x' })));
  t.same(error?.problems.map((p) => p.field), ['fingerprint']);
  t.notMatch(error?.message, /hunter2/, 'the password never appears in the error');
  await mocks.settle();
  t.same(mocks.resources, []);
});

t.test('every storage type is protected against deletion unless allowDestroy is set', async (t) => {
  for (const args of [dir, nfs, cifs, pbs] as StorageTargetArgs[]) {
    mocks.reset();
    new StorageTarget(args.storageId, args);
    await mocks.settle();
    const storage = mocks.resources.find((resource) => resource.name === `${args.storageId}-storage`)!;
    t.equal(storage.protect, true, `${args.type} is protected`);
    t.equal(storage.deleteBeforeReplace, true, `${args.type} replaces delete-first (unique id)`);
  }
  mocks.reset();
  new StorageTarget('usb1', { ...dir, allowDestroy: true });
  await mocks.settle();
  t.equal(mocks.one('proxmoxve:storage/directory:Directory').protect, false, 'a signed destroy job can lift the protection');
});
