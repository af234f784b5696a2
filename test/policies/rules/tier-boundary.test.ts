import t from 'tap';
import { tierBoundary } from '../../../policies/rules/tier-boundary.js';
import { homeBox } from '../../helpers/box-spec.js';
import { check, find, messages, plan, resourcesOf } from '../../helpers/policies.js';

const LXC = 'proxmoxve:index/containerLegacy:ContainerLegacy';

t.test('the home box host and guest stacks hold only their own providers', async (t) => {
  const result = await plan(homeBox(), ['host', 'guest']);
  t.same(check(tierBoundary, result, 'host'), []);
  t.same(check(tierBoundary, result, 'guest'), []);
});

t.test('a Proxmox container in the guest stack is refused with where it belongs', async (t) => {
  const result = await plan(homeBox(), ['host', 'guest']);
  const stray = find(resourcesOf(result, 'host'), LXC, 'customer-container');
  const violations = check(tierBoundary, result, 'guest', [...resourcesOf(result, 'guest'), stray]);
  t.same(messages(violations), [
    `${LXC} "customer-container" uses the proxmoxve provider, which the guest tier may not hold (allowed: docker, random): it belongs to the host tier (stacks/host.ts)`,
  ]);
  t.equal(violations[0]!.urn, stray.urn);
});

t.test('a Docker resource or a guest component in the host stack is refused', async (t) => {
  const result = await plan(homeBox(), ['host', 'guest']);
  const guest = resourcesOf(result, 'guest');
  const strays = [find(guest, 'pulumi:providers:docker', 'customer-docker'), find(guest, 'felhom:guest:Traefik', 'customer-traefik')];
  t.same(messages(check(tierBoundary, result, 'host', [...resourcesOf(result, 'host'), ...strays])), [
    'pulumi:providers:docker "customer-docker" uses the docker provider, which the host tier may not hold (allowed: proxmoxve, command, random): it belongs to the guest tier (stacks/guest.ts)',
    'felhom:guest:Traefik "customer-traefik" is a guest-tier component in the host tier\'s stack: create it in stacks/guest.ts instead',
  ]);
});

t.test('a Cloudflare resource outside the edge tier and an unknown provider anywhere are refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const record = { type: 'cloudflare:index/dnsRecord:DnsRecord', name: 'www', urn: 'urn:pulumi:hb-0001.host::felhom::cloudflare:index/dnsRecord:DnsRecord::www', inputs: {}, protect: false };
  const aws = { ...record, type: 'aws:s3/bucket:Bucket', name: 'b', urn: 'urn:pulumi:hb-0001.host::felhom::aws:s3/bucket:Bucket::b' };
  t.same(messages(check(tierBoundary, result, 'host', [record, aws])), [
    'cloudflare:index/dnsRecord:DnsRecord "www" uses the cloudflare provider, which the host tier may not hold (allowed: proxmoxve, command, random): it belongs to the edge tier (stacks/edge.ts)',
    'aws:s3/bucket:Bucket "b" uses the aws provider, which the host tier may not hold (allowed: proxmoxve, command, random): no tier allows this provider',
  ]);
});

t.test('the engine root stack resource is allowed in every tier', async (t) => {
  const root = { type: 'pulumi:pulumi:Stack', name: 'felhom-hb-0001.guest', urn: 'urn:pulumi:hb-0001.guest::felhom::pulumi:pulumi:Stack::felhom-hb-0001.guest', inputs: {}, protect: false };
  t.same(tierBoundary.checkResource!(root, { tier: 'guest' }), []);
});
