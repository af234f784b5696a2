import t from 'tap';
import { argsErrorFrom, mocks, promiseOf } from '../helpers/mocks.js';
import { DEFAULT_TRAEFIK_IMAGE, Traefik, traefikCommand, traefikRules, type TraefikArgs } from '../../components/traefik.js';
import { checkRules } from '../../components/validation.js';

const CONTAINER = 'docker:index/container:Container';
const DIGEST = `sha256:${'0f'.repeat(32)}`;

t.beforeEach(() => mocks.reset());

t.test('the static configuration routes only labelled containers on the traefik network', async (t) => {
  const flags = traefikCommand({ networkName: 'traefik', entrypoint: 'web', logLevel: 'INFO' });
  t.ok(flags.includes('--providers.docker=true'));
  t.ok(flags.includes('--providers.docker.exposedByDefault=false'), 'nothing is exposed unless it asks');
  t.ok(flags.includes('--providers.docker.network=traefik'));
  t.ok(flags.includes('--entryPoints.web.address=:80'));
  t.ok(flags.includes('--api.dashboard=false'), 'no dashboard reachable through the tunnel');
});

t.test('given no args, Traefik listens on guest port 80 with a pinned v3 image', async (t) => {
  const traefik = new Traefik('proxy');
  await mocks.settle();
  t.same(mocks.inventory(), [
    `${CONTAINER}::proxy-container`,
    'docker:index/network:Network::proxy-network',
    'docker:index/remoteImage:RemoteImage::proxy-image',
    'felhom:guest:Traefik::proxy',
  ]);
  t.match(DEFAULT_TRAEFIK_IMAGE, /^traefik:v3\.\d+$/);
  t.same(mocks.one('docker:index/remoteImage:RemoteImage').inputs, { name: DEFAULT_TRAEFIK_IMAGE, keepLocally: true });
  t.equal(mocks.one('docker:index/network:Network').inputs.name, 'traefik');
  const container = mocks.one(CONTAINER);
  t.match(container.inputs, {
    name: 'traefik',
    restart: 'unless-stopped',
    ports: [{ internal: 80, external: 80, protocol: 'tcp' }],
    networksAdvanced: [{ name: 'traefik' }],
    volumes: [{ hostPath: '/var/run/docker.sock', containerPath: '/var/run/docker.sock', readOnly: true }],
    healthcheck: { tests: ['CMD', 'traefik', 'healthcheck', '--ping'] },
    memory: 256,
  });
  t.same(container.inputs.command, traefikCommand({ networkName: 'traefik', entrypoint: 'web', logLevel: 'INFO' }));
  for (const child of mocks.resources.filter((r) => r.custom)) t.equal(child.parent, mocks.one('felhom:guest:Traefik').urn, `${child.name} is a child`);
  t.equal(await promiseOf(traefik.networkName), 'traefik');
  t.equal(await promiseOf(traefik.httpPort), 80);
  t.equal(await promiseOf(traefik.entrypoint), 'web');
});

t.test('given an image from a registry with a port, the digest replaces its tag and the port stays', async (t) => {
  new Traefik('proxy', { image: '127.0.0.1:5000/mirror/traefik:v3.6.12', digest: DIGEST });
  await mocks.settle();
  t.equal(mocks.one('docker:index/remoteImage:RemoteImage').inputs.name, `127.0.0.1:5000/mirror/traefik@${DIGEST}`);
});

t.test('given a digest, port and names, they are used', async (t) => {
  new Traefik('proxy', { digest: DIGEST, httpPort: 8080, networkName: 'edge', entrypoint: 'public', dockerSocket: '/run/docker.sock', memoryMiB: 128, logLevel: 'WARN' });
  await mocks.settle();
  t.equal(mocks.one('docker:index/remoteImage:RemoteImage').inputs.name, `traefik@${DIGEST}`, 'pinned by digest');
  const container = mocks.one(CONTAINER);
  t.match(container.inputs, {
    ports: [{ internal: 80, external: 8080 }],
    networksAdvanced: [{ name: 'edge' }],
    volumes: [{ hostPath: '/run/docker.sock' }],
    memory: 128,
  });
  t.ok(container.inputs.command.includes('--entryPoints.public.address=:80'));
  t.ok(container.inputs.command.includes('--log.level=WARN'));
});

const broken: [string, TraefikArgs, string, RegExp][] = [
  ['an image without tag', { image: 'traefik' }, 'image', /with a tag.*got "traefik"/],
  ['a short digest', { digest: 'sha256:00' }, 'digest', /sha256:<64 hex>/],
  ['an empty network', { networkName: '' }, 'networkName', /Docker network name/],
  ['port 0', { httpPort: 0 }, 'httpPort', /from 1 to 65535, got 0/],
  ['a bad entrypoint', { entrypoint: 'web:80' }, 'entrypoint', /entrypoint name/],
  ['a relative socket', { dockerSocket: 'docker.sock' }, 'dockerSocket', /absolute socket path/],
  ['32 MiB of memory', { memoryMiB: 32 }, 'memoryMiB', /from 64 to 65536 MiB, got 32/],
];
for (const [what, args, field, message] of broken) {
  t.test(`given ${what}, validation names ${field}`, async (t) => {
    const problems = checkRules(traefikRules, args);
    t.same(problems.map((p) => p.field), [field]);
    t.match(problems[0]?.message, message);
  });
}

t.test('given invalid args, the constructor throws and registers nothing', async (t) => {
  argsErrorFrom(t, () => new Traefik('proxy', { httpPort: 70000 }));
  await mocks.settle();
  t.same(mocks.resources, []);
});
