import t from 'tap';
import { PveApiError } from '../../../../runner/agent/pve-api-client.js';
import { rawRequest, startTestSimulator } from '../../../helpers/pve-sim.js';

t.test('the simulator answers version over HTTPS to its API token, and refuses a missing or wrong token as PVE does', async (t) => {
  const { sim, api } = await startTestSimulator(t);
  t.match(await api.get('/version'), { version: '9.2.0', release: '9.2' });
  t.match(sim.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const missing = await rawRequest(sim, 'GET', '/api2/json/version', { authorization: null });
  t.equal(missing.status, 401);
  t.equal(missing.statusText, 'No ticket');
  const wrong = await rawRequest(sim, 'GET', '/api2/json/version', { authorization: 'PVEAPIToken=root@pam!felhom=00000000-0000-0000-0000-000000000000' });
  t.equal(wrong.status, 401);
  t.equal(wrong.statusText, 'authentication failure');
  t.equal((await rawRequest(sim, 'GET', '//api2/json/version')).status, 200, 'a doubled slash (an endpoint with a trailing slash) is taken');
  const malformed = await rawRequest(sim, 'GET', '/api2/json/version', { authorization: 'Bearer abc' });
  t.equal(malformed.status, 401);
});

t.test('every parameter is checked against the schema: a wrong type, an unknown parameter and a missing one are refused with per-parameter errors', async (t) => {
  const { sim } = await startTestSimulator(t);
  const create = await rawRequest(sim, 'POST', '/api2/json/nodes/pve/lxc', { body: 'vmid=200&memory=abc&colour=blue&ostemplate=local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst' });
  t.equal(create.status, 400);
  t.equal(create.statusText, 'Parameter verification failed.');
  t.same(create.body, {
    data: null,
    errors: {
      memory: "type check ('integer') failed - got 'abc'",
      colour: 'property is not defined in schema and the schema does not allow additional properties',
    },
  });
  const missing = await rawRequest(sim, 'POST', '/api2/json/nodes/pve/lxc', { body: 'vmid=200' });
  t.same(missing.body.errors, { ostemplate: 'property is missing and it is not optional' });
  t.equal(Object.keys((await rawRequest(sim, 'GET', '/api2/json/nodes/pve/lxc')).body.data).length, 0, 'nothing was created');
});

t.test('formats, ranges, enumerations and property strings bite too', async (t) => {
  const { sim } = await startTestSimulator(t);
  const template = 'ostemplate=local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst';
  const cases: [string, Record<string, string>][] = [
    ['vmid=99', { vmid: 'value must have a minimum value of 100' }],
    ['vmid=200&ostype=windows', { ostype: "value 'windows' does not have a value in the enumeration 'debian', 'devuan', 'ubuntu', 'centos', 'fedora', 'opensuse', 'archlinux', 'alpine', 'gentoo', 'nixos', 'unmanaged'" }],
    ['vmid=200&onboot=true', { onboot: "type check ('boolean') failed - got 'true'" }],
    ['vmid=200&hostname=bad_host!', { hostname: "invalid format - value 'bad_host!' does not look like a valid DNS name\n" }],
    ['vmid=200&storage=-x', { storage: "invalid format - storage ID '-x' contains illegal characters\n" }],
    ['vmid=200&features=nesting=1,wings=1', { features: 'invalid format - invalid key in comma-separated list property: wings\n' }],
    ['vmid=200&rootfs=local-lvm:8,size=big', { rootfs: 'invalid format - format error\n', 'rootfs.size': "invalid format - unable to parse size 'big'\n" }],
    ['vmid=200&mp0=usb:10,backup=maybe', { mp0: 'invalid format - format error\n', 'mp0.backup': "type check ('boolean') failed - got 'maybe'", 'mp0.mp': 'property is missing and it is not optional' }],
    ['vmid=200&mp999x=1', { mp999x: 'property is not defined in schema and the schema does not allow additional properties' }],
  ];
  for (const [query, errors] of cases) {
    const reply = await rawRequest(sim, 'POST', '/api2/json/nodes/pve/lxc', { body: `${template}&${query}` });
    t.equal(reply.status, 400, query);
    t.same(reply.body.errors, errors, query);
  }
  const path = await rawRequest(sim, 'GET', '/api2/json/nodes/bad_node!/lxc');
  t.same(path.body.errors, { node: 'invalid format - value does not look like a valid node name\n' }, 'path parameters are checked as well');
});

t.test('a JSON body is checked the same way, true and false standing for 1 and 0', async (t) => {
  const { sim } = await startTestSimulator(t);
  const reply = await rawRequest(sim, 'POST', '/api2/json/storage', { body: JSON.stringify({ storage: 'nas', type: 'nfs', server: 'nas.lan', export: '/volume1/felhom', content: 'backup', disable: false, port: 'x' }), contentType: 'application/json' });
  t.equal(reply.status, 400);
  t.same(reply.body.errors, { port: "type check ('integer') failed - got 'x'" });
});

t.test('a path outside the schema, and a schema path the simulator does not implement, answer 501', async (t) => {
  const { sim } = await startTestSimulator(t);
  const unknown = await rawRequest(sim, 'GET', '/api2/json/nodes/pve/teleport');
  t.equal(unknown.status, 501);
  t.equal(unknown.statusText, "Method 'GET /nodes/pve/teleport' not implemented");
  const unsimulated = await rawRequest(sim, 'GET', '/api2/json/nodes/pve/qemu');
  t.equal(unsimulated.status, 501);
  t.match(unsimulated.statusText, /in PVE's schema but not simulated/);
  const api = await rawRequest(sim, 'GET', '/other');
  t.equal(api.status, 501);
});

t.test('the API client turns a refusal into a typed error with the per-parameter errors', async (t) => {
  const { api } = await startTestSimulator(t);
  const error = await api.post('/nodes/pve/lxc', { vmid: 200, memory: 'lots', ostemplate: 'local:vztmpl/x.tar.zst' }).catch((caught: unknown) => caught);
  t.type(error, PveApiError);
  t.equal((error as PveApiError).status, 400);
  t.equal((error as PveApiError).kind, 'generic');
  t.same((error as PveApiError).errors, { memory: "type check ('integer') failed - got 'lots'" });
  t.notMatch((error as Error).message, /PVEAPIToken|=[0-9a-f-]{36}/, 'the token is not in the message');
});
