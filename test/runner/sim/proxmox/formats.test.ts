import t from 'tap';
import { checkedFormats, checkFormat, FormatError, splitList } from '../../../../runner/sim/proxmox/formats.js';
import { PveApiSchema, perlPattern } from '../../../../runner/sim/proxmox/schema.js';

const cases: [format: string, good: string, bad: string, message: RegExp][] = [
  ['pve-node', 'pve', 'pve_1', /valid node name/],
  ['pve-vmid', '200', '99', /valid VM ID/],
  ['pve-configid', 'felhom-job', '1job', /invalid configuration ID/],
  ['pve-storage-id', 'nas-backup', 'nas backup', /illegal characters/],
  ['pve-volume-id', 'local:vztmpl/x.tar.zst', 'no-colon', /unable to parse volume ID/],
  ['pve-lxc-mp-string', '/mnt/host/dir', 'relative/path', /unable to parse volume ID/],
  ['dns-name', 'customer.lan', 'bad_name', /valid DNS name/],
  ['pve-tag-list', 'felhom;prod', 'felhom;b@d', /invalid tag/],
  ['pve-storage-content-list', 'backup,iso', 'backup,movies', /invalid content type/],
  ['pve-storage-path', '/volume1/felhom', 'volume1', /invalid path/],
  ['pve-storage-server', '192.168.1.10', 'nas..lan', /invalid server address/],
  ['pve-storage-server', '[fd00::1]', 'a b', /invalid server address/],
  ['pve-storage-options', 'vers=4.2', 'vers=4.2;rm -rf', /invalid options/],
  ['pve-userid', 'root@pam', 'root', /valid user name/],
  ['pve-realm', 'pve', '1x', /valid realm/],
  ['pve-poolid', 'customers', 'a b', /invalid pool ID/],
  ['disk-size', '96G', '96 G', /unable to parse size/],
  ['mac-addr', 'BC:24:11:00:00:01', 'BC:24:11', /valid MAC address/],
  ['ip', '10.0.0.1', '10.0.0', /valid IP address/],
  ['ipv4', '10.0.0.1', '::1', /valid IPv4 address/],
  ['ipv6', '::1', '10.0.0.1', /valid IPv6 address/],
  ['CIDRv4', '10.0.0.0/8', '10.0.0.0/33', /IPv4 CIDR/],
  ['CIDR', 'fd00::/8', '10.0.0.1', /valid CIDR/],
  ['pve-ipv4-config', 'dhcp', '10.0.0.1', /IPv4 configuration/],
  ['pve-ipv6-config', 'auto', 'sometimes', /IPv6 configuration/],
  ['pve-calendar-event', '*-*-* 02:30', '30 2 * * *', /calendar event/],
  ['pve-day-of-week-list', 'mon,sun', 'mon,someday', /invalid day of week/],
  ['pve-bridge-id', 'vmbr0', 'vm br', /invalid bridge ID/],
  ['pve-startup-order', 'order=1,up=30', 'first', /startup options/],
  ['pve-task-status-type-list', 'ok,error', 'ok,meh', /task status type/],
  ['prune-backups', 'keep-daily=7,keep-weekly=4', 'keep-daily=seven', /type check/],
  ['pve-vmid-list', '200,201', '200,9', /valid VM ID/],
];

t.test('each checked format accepts a good value and refuses a bad one with its message', async (t) => {
  for (const [format, good, bad, message] of cases) {
    t.doesNotThrow(() => checkFormat(format, good), `${format} ${good}`);
    t.throws(() => checkFormat(format, bad), FormatError, `${format} ${bad}`);
    try {
      checkFormat(format, bad);
    } catch (error) {
      t.match((error as Error).message, message, format);
    }
  }
  t.doesNotThrow(() => checkFormat('pve-some-future-format', 'anything'), 'an unknown format is accepted unchecked');
  t.ok(checkedFormats().includes('pve-vmid-list'));
});

t.test("PVE's list separators and Perl patterns", async (t) => {
  t.same(splitList('a, b;c d'), ['a', 'b', 'c', 'd']);
  t.same(splitList('a,b\0c d'), ['a,b', 'c d'], 'a NUL-separated list keeps commas and spaces');
  t.ok(perlPattern('(?^:(?^:(discard|noatime))(;(?^:(discard|noatime)))*)').test('discard;noatime'));
  t.notOk(perlPattern('[a-z]+').test('abc1'), 'a pattern matches the whole value');
  t.ok(perlPattern('[\\x{41}-\\x{5A}]+').test('ABC'), 'Perl code point escapes');
});

t.test('a schema without the apiSchema array is refused', async (t) => {
  t.throws(() => PveApiSchema.parse('const apiSchema = [];'), { code: 'ESIM_SCHEMA', message: /empty/ });
  t.throws(() => PveApiSchema.parse('const apiSchema = [ {oops} ];'), { code: 'ESIM_SCHEMA', message: /not JSON/ });
  const schema = PveApiSchema.parse('const apiSchema = [{"path":"/version","text":"version","info":{"GET":{"method":"GET","name":"version"}}}];');
  t.equal(schema.methodCount, 1);
  t.match(schema.match('GET', '/version'), { template: '/version', method: { name: 'version' } });
  t.match(schema.match('PUT', '/version'), { method: undefined });
  t.equal(schema.match('GET', '/nothing'), undefined);
});

t.test("the shared schema is found from $FELHOM_PVE_SCHEMA, else beside or above the repository", async (t) => {
  const { findSharedSchema } = await import('../../../../runner/sim/proxmox/schema.js');
  t.equal(findSharedSchema('/anywhere/repo', { FELHOM_PVE_SCHEMA: '/x/apidata.js' }), '/x/apidata.js');
  const root = t.testdir({ shared: { 'pve-api': { 'apidata.js': 'const apiSchema = [];' } }, clones: { repo: {} } });
  t.equal(findSharedSchema(`${root}/clones/repo`, {}), `${root}/shared/pve-api/apidata.js`, 'one folder above the parent');
  t.equal(findSharedSchema(`${root}/repo`, {}), `${root}/shared/pve-api/apidata.js`, 'beside the repository');
});
