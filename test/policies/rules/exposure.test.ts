import t from 'tap';
import { exposure } from '../../../policies/rules/exposure.js';
import { homeBox } from '../../helpers/box-spec.js';
import { check, edgeResources, messages, modify, plan, resourcesOf } from '../../helpers/policies.js';

const DOCKER = 'docker:index/container:Container';
const DNS = 'cloudflare:index/dnsRecord:DnsRecord';
const CONFIG = 'cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig';

t.test('the home box guest publishes only Traefik\'s port and routes hostnames of its domain', async (t) => {
  const result = await plan(homeBox(), ['guest']);
  t.same(check(exposure, result, 'guest'), []);
});

t.test('an app port published on the LAN that its manifest does not declare is refused', async (t) => {
  const result = await plan(homeBox(), ['guest']);
  const resources = modify(resourcesOf(result, 'guest'), DOCKER, 'cloud-db', (r) => (r.inputs.ports = [{ internal: 5432, external: 5432, protocol: 'tcp' }]));
  t.same(messages(check(exposure, result, 'guest', resources)), [
    `${DOCKER} "cloud-db" publishes tcp port 5432 on the host's LAN, which the nextcloud manifest does not declare in exposedPorts (declared: none): reach the app through the tunnel, or declare the port in the manifest's exposedPorts`,
  ]);
});

t.test('a port the manifest declares in exposedPorts is allowed', async (t) => {
  const result = await plan(homeBox(), ['guest']);
  const box = {
    ...result.box,
    apps: result.box.apps.map((app) => (app.name !== 'media' ? app : { ...app, manifest: { ...app.manifest, exposedPorts: [{ service: 'jellyfin', port: 7359, protocol: 'udp' as const, description: 'client discovery' }] } })),
  };
  const resources = modify(resourcesOf(result, 'guest'), DOCKER, 'media-jellyfin', (r) => (r.inputs.ports = [{ internal: 7359, external: 7359, protocol: 'udp' }]));
  t.same(check(exposure, { ...result, box }, 'guest', resources), []);
});

t.test('Traefik publishing anything but its entrypoint port is refused', async (t) => {
  const result = await plan(homeBox(), ['guest']);
  const resources = modify(resourcesOf(result, 'guest'), DOCKER, 'customer-traefik-container', (r) => r.inputs.ports.push({ internal: 8080, external: 8080, protocol: 'tcp' }));
  t.same(messages(check(exposure, result, 'guest', resources)), [
    `${DOCKER} "customer-traefik-container" publishes tcp port 8080 on the host's LAN; Traefik publishes only its entrypoint port 80`,
  ]);
});

t.test('a Traefik route for a hostname outside the customer domain is refused', async (t) => {
  const result = await plan(homeBox(), ['guest']);
  const resources = modify(resourcesOf(result, 'guest'), DOCKER, 'vault-vaultwarden', (r) => {
    const rule = r.inputs.labels.find((label: { label: string }) => label.label === 'traefik.http.routers.vault.rule');
    rule.value = 'Host(`vault.example.org`)';
  });
  t.same(messages(check(exposure, result, 'guest', resources)), [`${DOCKER} "vault-vaultwarden" routes "vault.example.org", outside the customer domain kovacs-otthon.hu: app hostnames must lie inside it`]);
});

t.test('the edge stack routing every hostname through the tunnel passes', async (t) => {
  const result = await plan(homeBox(), ['host']);
  t.same(check(exposure, result, 'edge', edgeResources(result.box)), []);
});

t.test('a hostname missing from the tunnel ingress and DNS is refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = edgeResources(result.box).filter((r) => r.inputs.name !== 'vault.kovacs-otthon.hu');
  const withoutIngress = modify(resources, CONFIG, 'felhom-hb-0001-config', (r) => {
    r.inputs.config.ingresses = r.inputs.config.ingresses.filter((rule: { hostname?: string }) => rule.hostname !== 'vault.kovacs-otthon.hu');
  });
  t.same(messages(check(exposure, result, 'edge', withoutIngress)), [
    'hostname "vault.kovacs-otthon.hu" has no ingress rule in the tunnel configuration: it must be routed through the tunnel to its guest',
    'hostname "vault.kovacs-otthon.hu" has no proxied DNS record to the tunnel',
  ]);
});

t.test('a DNS record that bypasses the tunnel or the proxy is refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(edgeResources(result.box), DNS, 'felhom-hb-0001-dns-media-kovacs-otthon-hu', (r) => {
    r.inputs.type = 'A';
    r.inputs.content = '203.0.113.7';
    r.inputs.proxied = false;
  });
  t.same(messages(check(exposure, result, 'edge', resources)), [
    `${DNS} "felhom-hb-0001-dns-media-kovacs-otthon-hu" is a A record to "203.0.113.7", not a CNAME to the tunnel (<tunnel id>.cfargotunnel.com): apps are reached only through the tunnel`,
    `${DNS} "felhom-hb-0001-dns-media-kovacs-otthon-hu" is not proxied: set proxied: true so traffic passes Cloudflare's edge (and the geo WAF)`,
  ]);
});
