import t from 'tap';
import * as pulumi from '@pulumi/pulumi';
import { argsErrorFrom, isSecret, mocks, promiseOf } from '../helpers/mocks.js';
import { Tunnel, hostnameSlug, ingressRules, tunnelRules, tunnelToken, type TunnelArgs, type TunnelRoute } from '../../components/tunnel.js';
import { checkRules } from '../../components/validation.js';

const ACCOUNT = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const ZONE = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const TUNNEL = 'cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared';
const CONFIG = 'cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig';
const DNS = 'cloudflare:index/dnsRecord:DnsRecord';

const baseArgs: TunnelArgs = {
  accountId: ACCOUNT,
  zoneId: ZONE,
  tunnelName: 'felhom-hb-0001',
  routes: [
    { hostname: 'photos.example.com', service: 'http://192.168.1.50:80' },
    { hostname: 'controller.example.com', service: 'http://192.168.1.50:80' },
  ],
};

/** The company case: two customer guests on one host, each app on its own guest's Traefik. */
const twoGuests: TunnelArgs = {
  ...baseArgs,
  routes: [
    { hostname: 'cloud.acme.example', service: 'http://10.0.10.21:80' },
    { hostname: 'controller.acme.example', service: 'http://10.0.10.20:80' },
    { hostname: 'wiki.acme.example', service: 'http://10.0.10.22:8080' },
  ],
};

t.beforeEach(() => mocks.reset());

t.test('the token is cloudflared\'s documented format: base64 JSON of account, tunnel and secret', async (t) => {
  const token = tunnelToken(ACCOUNT, 'c0ffee00-0000-4000-8000-000000000000', 'c2VjcmV0');
  t.same(JSON.parse(Buffer.from(token, 'base64').toString('utf8')), { a: ACCOUNT, t: 'c0ffee00-0000-4000-8000-000000000000', s: 'c2VjcmV0' });
});

t.test('ingress is one rule per route in the given order, then the 404 catch-all; slugs are child-name safe', async (t) => {
  t.same(ingressRules([{ hostname: 'a.example.com', service: 'http://x:80' }]), [{ hostname: 'a.example.com', service: 'http://x:80' }, { service: 'http_status:404' }]);
  t.same(
    ingressRules([
      { hostname: 'b.example.com', service: 'http://10.0.0.2:80' },
      { hostname: 'a.example.com', service: 'http://10.0.0.1:80' },
    ]),
    [{ hostname: 'b.example.com', service: 'http://10.0.0.2:80' }, { hostname: 'a.example.com', service: 'http://10.0.0.1:80' }, { service: 'http_status:404' }],
    'the given order, not sorted: cloudflared matches the first rule that fits',
  );
  t.equal(hostnameSlug('photos.example.com'), 'photos-example-com');
});

t.test('given two hostnames, a cloudflare-managed tunnel, its ingress and two proxied CNAMEs are created', async (t) => {
  const tunnel = new Tunnel('edge', baseArgs);
  await mocks.settle();
  t.same(mocks.inventory(), [
    `${DNS}::edge-dns-controller-example-com`,
    `${DNS}::edge-dns-photos-example-com`,
    `${TUNNEL}::edge-tunnel`,
    `${CONFIG}::edge-config`,
    'felhom:edge:Tunnel::edge',
    'random:index/randomBytes:RandomBytes::edge-secret',
  ]);
  const component = mocks.one('felhom:edge:Tunnel');
  t.equal(mocks.childrenOf(component).length, 5, 'every resource is a child of the component');

  t.same(mocks.one('random:index/randomBytes:RandomBytes').inputs, { length: 32 }, 'a 32-byte secret, as Cloudflare requires');
  const resource = mocks.one(TUNNEL);
  t.match(resource.inputs, { accountId: ACCOUNT, name: 'felhom-hb-0001', configSrc: 'cloudflare' });
  t.same(resource.secretPaths, ['tunnelSecret'], 'the tunnel secret is sent as a secret');
  t.same(resource.ignoreChanges, ['tunnelSecret'], 'the secret is never rotated by a plan');

  const tunnelId = await promiseOf(tunnel.tunnelId);
  t.match(tunnelId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const config = mocks.one(CONFIG);
  t.same(config.inputs, {
    accountId: ACCOUNT,
    tunnelId,
    source: 'cloudflare',
    config: {
      ingresses: [
        { hostname: 'photos.example.com', service: 'http://192.168.1.50:80' },
        { hostname: 'controller.example.com', service: 'http://192.168.1.50:80' },
        { service: 'http_status:404' },
      ],
    },
  });

  for (const { hostname } of baseArgs.routes) {
    const record = mocks.one(DNS, `edge-dns-${hostnameSlug(hostname)}`);
    t.same(record.inputs, { zoneId: ZONE, name: hostname, type: 'CNAME', content: `${tunnelId}.cfargotunnel.com`, proxied: true, ttl: 1, comment: 'felhom tunnel felhom-hb-0001' });
  }
  t.equal(await promiseOf(tunnel.cnameTarget), `${tunnelId}.cfargotunnel.com`);
});

t.test('the tunnel token output is secret and decodes to account, tunnel id and secret', async (t) => {
  const tunnel = new Tunnel('edge', baseArgs);
  t.equal(await isSecret(tunnel.tunnelToken), true, 'the token is a Pulumi secret');
  const token = await promiseOf(tunnel.tunnelToken);
  const secret = Buffer.alloc(32, 'edge-secret').toString('base64');
  t.same(JSON.parse(Buffer.from(token, 'base64').toString('utf8')), { a: ACCOUNT, t: await promiseOf(tunnel.tunnelId), s: secret });
  await mocks.settle();
});

t.test('given routes to different guests, each hostname goes to its own origin, in the given order', async (t) => {
  const tunnel = new Tunnel('edge', twoGuests);
  await mocks.settle();
  t.same(mocks.one(CONFIG).inputs.config.ingresses, [
    { hostname: 'cloud.acme.example', service: 'http://10.0.10.21:80' },
    { hostname: 'controller.acme.example', service: 'http://10.0.10.20:80' },
    { hostname: 'wiki.acme.example', service: 'http://10.0.10.22:8080' },
    { service: 'http_status:404' },
  ]);
  const tunnelId = await promiseOf(tunnel.tunnelId);
  t.same(
    mocks.find(DNS).map((record) => [record.name, record.inputs.name, record.inputs.content]),
    [
      ['edge-dns-cloud-acme-example', 'cloud.acme.example', `${tunnelId}.cfargotunnel.com`],
      ['edge-dns-controller-acme-example', 'controller.acme.example', `${tunnelId}.cfargotunnel.com`],
      ['edge-dns-wiki-acme-example', 'wiki.acme.example', `${tunnelId}.cfargotunnel.com`],
    ],
    'one CNAME per route, all to the one tunnel: routing is the ingress\'s job',
  );
});

t.test('the child names are the ones that shipped: secret, tunnel, config and one dns record per hostname', async (t) => {
  new Tunnel('felhom-hb-0001', twoGuests);
  await mocks.settle();
  t.same(mocks.inventory((r) => r.custom), [
    `${DNS}::felhom-hb-0001-dns-cloud-acme-example`,
    `${DNS}::felhom-hb-0001-dns-controller-acme-example`,
    `${DNS}::felhom-hb-0001-dns-wiki-acme-example`,
    `${TUNNEL}::felhom-hb-0001-tunnel`,
    `${CONFIG}::felhom-hb-0001-config`,
    'random:index/randomBytes:RandomBytes::felhom-hb-0001-secret',
  ]);
});

t.test('given a guest address as an Output, it reaches that route\'s ingress rule', async (t) => {
  new Tunnel('edge', {
    ...baseArgs,
    routes: [
      { hostname: 'photos.example.com', service: pulumi.output('http://10.0.0.9:80') },
      { hostname: 'controller.example.com', service: 'http://10.0.0.8:80' },
    ],
  });
  await mocks.settle();
  t.same(mocks.one(CONFIG).inputs.config.ingresses.slice(0, 2), [
    { hostname: 'photos.example.com', service: 'http://10.0.0.9:80' },
    { hostname: 'controller.example.com', service: 'http://10.0.0.8:80' },
  ]);
});

t.test('the tunnel needs no Cloudflare API call at plan time', async (t) => {
  new Tunnel('edge', baseArgs);
  await mocks.settle();
  t.same(mocks.recordedCalls, [], 'no invoke, so a preview works offline');
});

const route = (hostname: string, service: TunnelRoute['service'] = 'http://192.168.1.50:80'): TunnelRoute => ({ hostname, service });

const broken: [string, Partial<TunnelArgs>, string, RegExp][] = [
  ['an upper-case account id', { accountId: ACCOUNT.toUpperCase() }, 'accountId', /32 lower-case hex digits/],
  ['a short zone id', { zoneId: 'bb' }, 'zoneId', /32 lower-case hex digits, got "bb"/],
  ['an empty tunnel name', { tunnelName: '' }, 'tunnelName', /tunnel name/],
  ['no routes', { routes: [] }, 'routes', /at least one route \{ hostname, service \}, got \[\]/],
  ['routes that are not a list', { routes: 'photos.example.com' as unknown as TunnelRoute[] }, 'routes', /at least one route.*got "photos.example.com"/],
  ['a hostname with a scheme', { routes: [route('a.example.com'), route('https://b.example.com')] }, 'routes[].hostname', /lower-case DNS hostnames.*got routes\[1\]\.hostname "https:\/\/b.example.com"/],
  ['an upper-case hostname', { routes: [route('Photos.example.com')] }, 'routes[].hostname', /got routes\[0\]\.hostname "Photos.example.com"/],
  ['a route without a hostname', { routes: [{ service: 'http://10.0.0.1:80' } as TunnelRoute] }, 'routes[].hostname', /got routes\[0\]\.hostname nothing/],
  ['a repeated hostname', { routes: [route('a.example.com'), route('a.example.com', 'http://10.0.0.2:80')] }, 'routes[].hostname', /each hostname once, got \["a.example.com"\] more than once/],
  ['two hostnames whose DNS record names clash', { routes: [route('a-b.example.com'), route('a.b-example.com')] }, 'routes[].hostname', /DNS record names differ, got several named \["a-b-example-com"\]/],
  ['a service that is not a URL', { routes: [route('a.example.com', '192.168.1.50:80')] }, 'routes[].service', /origin URLs.*got routes\[0\]\.service "192.168.1.50:80"/],
  ['a service with a path', { routes: [route('a.example.com'), route('b.example.com', 'http://10.0.0.2:80/app')] }, 'routes[].service', /got routes\[1\]\.service "http:\/\/10.0.0.2:80\/app"/],
  ['a route without a service', { routes: [{ hostname: 'a.example.com' } as TunnelRoute] }, 'routes[].service', /got routes\[0\]\.service nothing/],
];
for (const [what, patch, field, message] of broken) {
  t.test(`given ${what}, validation names ${field}`, async (t) => {
    const problems = checkRules(tunnelRules, { ...baseArgs, ...patch });
    t.same(problems.map((p) => p.field), [field]);
    t.match(problems[0]?.message, message);
  });
}

t.test('given a service that is an Output, validation leaves it to Cloudflare', async (t) => {
  t.same(checkRules(tunnelRules, { ...baseArgs, routes: [route('a.example.com', pulumi.output('not checked'))] }), []);
});

t.test('given valid args, no rule breaks', async (t) => {
  t.same(checkRules(tunnelRules, twoGuests), []);
});

t.test('given invalid args, the constructor throws and registers nothing', async (t) => {
  const error = argsErrorFrom(t, () => new Tunnel('edge', { ...baseArgs, routes: [route('A.example.com', 'ftp://x')] }));
  t.same(error?.problems.map((p) => p.field), ['routes[].hostname', 'routes[].service'], 'every broken rule at once');
  await mocks.settle();
  t.same(mocks.resources, []);
});
