/**
 * Exposure (docs/architecture.md#trust-boundaries, #networking): apps are reached only through the Cloudflare Tunnel → Traefik, under
 * the customer's domain. No container publishes a port on the home LAN unless its manifest
 * declares it (`exposedPorts`), except Traefik's own port, which the host's cloudflared targets.
 */
import { asArray, asRecord, describe, dockerLabels, inDomain, isKnown, quoted, traefikHosts, TYPES } from '../resources.js';
import type { PolicyContext, PolicyResource, PolicyRule, Violation } from '../types.js';

/** The port Traefik listens on inside its container (its `web` entrypoint). */
export const TRAEFIK_PORT = 80;

function portsOf(resource: PolicyResource): { internal: unknown; external: unknown; protocol: string }[] {
  return asArray(resource.inputs.ports).map((entry) => {
    const port = asRecord(entry);
    return { internal: port.internal, external: port.external ?? port.internal, protocol: typeof port.protocol === 'string' ? port.protocol : 'tcp' };
  });
}

function checkContainer(resource: PolicyResource, context: PolicyContext): string[] {
  const messages: string[] = [];
  const box = context.box;
  const ports = portsOf(resource);
  if (resource.parentType === TYPES.traefik) {
    for (const port of ports) {
      if (port.internal !== TRAEFIK_PORT) messages.push(`${describe(resource)} publishes ${port.protocol} port ${String(port.internal)} on the host's LAN; Traefik publishes only its entrypoint port ${TRAEFIK_PORT}`);
    }
  } else if (ports.length > 0 && box) {
    const app = resource.parentType === TYPES.appStack ? box.apps.find((candidate) => candidate.name === resource.parent) : undefined;
    const containerName = String(resource.inputs.name ?? '');
    const service = app && containerName.startsWith(`${app.name}-`) ? containerName.slice(app.name.length + 1) : undefined;
    const declared = (app?.manifest.exposedPorts ?? []).filter((port) => port.service === service);
    for (const port of ports) {
      const allowed = declared.some((candidate) => candidate.port === port.internal && candidate.port === port.external && (candidate.protocol ?? 'tcp') === port.protocol);
      if (!allowed) {
        messages.push(
          `${describe(resource)} publishes ${port.protocol} port ${String(port.external)} on the host's LAN, which ${app ? `the ${app.template} manifest does not declare in exposedPorts (declared: ${quoted(declared.map((p) => `${p.port}/${p.protocol ?? 'tcp'}`)) || 'none'})` : 'no app manifest declares'}: reach the app through the tunnel, or declare the port in the manifest's exposedPorts`,
        );
      }
    }
  }
  if (box) {
    const labels = dockerLabels(resource);
    const app = box.apps.find((candidate) => candidate.name === resource.parent);
    for (const [label, value] of Object.entries(labels)) {
      if (!/^traefik\.http\.routers\.[^.]+\.rule$/.test(label)) continue;
      for (const host of traefikHosts(value)) {
        if (!inDomain(host, box.domain)) messages.push(`${describe(resource)} routes ${JSON.stringify(host)}, outside the customer domain ${box.domain}: app hostnames must lie inside it`);
        else if (app && host !== app.hostname) messages.push(`${describe(resource)} routes ${JSON.stringify(host)}, but app "${app.name}" has hostname "${app.hostname}" in the spec`);
      }
    }
  }
  return messages;
}

function checkDnsRecord(resource: PolicyResource, context: PolicyContext): string[] {
  const messages: string[] = [];
  const { name, type, content, proxied } = resource.inputs;
  if (context.box && typeof name === 'string' && !inDomain(name, context.box.domain)) {
    messages.push(`${describe(resource)} publishes ${JSON.stringify(name)}, outside the customer domain ${context.box.domain}`);
  }
  if (type !== 'CNAME' || (isKnown(content) && !String(content).endsWith('.cfargotunnel.com'))) {
    messages.push(`${describe(resource)} is a ${String(type)} record to ${isKnown(content) ? JSON.stringify(content) : 'a computed target'}, not a CNAME to the tunnel (<tunnel id>.cfargotunnel.com): apps are reached only through the tunnel`);
  }
  if (proxied !== true) messages.push(`${describe(resource)} is not proxied: set proxied: true so traffic passes Cloudflare's edge (and the geo WAF)`);
  return messages;
}

/** Every `hostname` string anywhere under the tunnel configuration's inputs. */
function ingressHostnames(config: unknown): string[] {
  const found: string[] = [];
  const walk = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (key === 'hostname' && typeof child === 'string') found.push(child);
        else walk(child);
      }
    }
  };
  walk(config);
  return found;
}

function checkEdgeStack(resources: readonly PolicyResource[], context: PolicyContext): Violation[] {
  const box = context.box;
  if (!box || context.tier !== 'edge') return [];
  const violations: Violation[] = [];
  const dns = new Set(resources.filter((resource) => resource.type === TYPES.dnsRecord).map((resource) => resource.inputs.name));
  const ingress = new Set(resources.filter((resource) => resource.type === TYPES.tunnelConfig).flatMap((resource) => ingressHostnames(resource.inputs.config)));
  const hostnames = [box.edge.controllerHostname, ...box.apps.map((app) => app.hostname)];
  for (const hostname of hostnames) {
    if (!inDomain(hostname, box.domain)) violations.push({ message: `hostname "${hostname}" lies outside the customer domain ${box.domain}: choose a hostname inside it` });
    if (!ingress.has(hostname)) violations.push({ message: `hostname "${hostname}" has no ingress rule in the tunnel configuration: it must be routed through the tunnel to its guest` });
    if (!dns.has(hostname)) violations.push({ message: `hostname "${hostname}" has no proxied DNS record to the tunnel` });
  }
  return violations;
}

export const exposure: PolicyRule = {
  name: 'exposure',
  description: "Every app hostname lies in the customer's domain and is routed through the tunnel; no port is published on the LAN unless the app manifest declares it (Traefik's own port excepted).",
  level: 'mandatory',
  remediation: "Keep hostnames inside spec.domain, let the edge tier route them through the Tunnel, and publish a port only through the app manifest's exposedPorts.",
  tiers: ['edge', 'guest'],
  needsBox: false,
  checkResource(resource, context) {
    if (context.tier === 'guest' && resource.type === TYPES.dockerContainer) return checkContainer(resource, context);
    if (context.tier === 'edge' && resource.type === TYPES.dnsRecord) return checkDnsRecord(resource, context);
    return [];
  },
  checkStack: checkEdgeStack,
};
