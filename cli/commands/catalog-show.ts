/** `felhom catalog show <app> [--json]`: one app's manifest, as the operator reviews it. */
import type { CommandModule } from '../command.js';
import { usageError } from '../errors.js';
import { loadManifest } from '../../templates/lib/catalog.js';
import type { AppManifest } from '../../templates/lib/manifest.js';

function imageReference(service: AppManifest['services'][number]): string {
  return `${service.image}:${service.tag}${service.digest ? `@${service.digest}` : ' (no digest)'}`;
}

/** The manifest as indented lines: what runs, where each volume lives and how it is backed up. */
export function describeManifest(manifest: AppManifest): string[] {
  const lines = [`${manifest.title} ${manifest.version} (${manifest.name})`, `  ${manifest.description}`];
  if (manifest.website) lines.push(`  website: ${manifest.website}`);
  lines.push(manifest.http ? `  http: ${manifest.http.service}:${manifest.http.port}${manifest.http.path ?? '/'}` : '  http: none (no web UI)');
  if (manifest.minMemoryMiB) lines.push(`  minimum memory: ${manifest.minMemoryMiB} MiB`);
  lines.push('services:');
  for (const service of manifest.services) {
    lines.push(`  ${service.name}${service.role && service.role !== 'app' ? ` [${service.role}]` : ''}: ${imageReference(service)}`);
    if (service.ports?.length) lines.push(`    ports: ${service.ports.join(', ')}`);
    for (const mount of service.mounts ?? []) lines.push(`    mount: ${mount.volume} -> ${mount.path}${mount.readOnly ? ' (read-only)' : ''}`);
    if (service.healthcheck) lines.push(`    health: ${service.healthcheck.test.join(' ')}`);
    if (service.dependsOn?.length) {
      lines.push(`    after: ${service.dependsOn.map((name) => `${name}${service.dependsOnCondition?.[name] ? ` (${service.dependsOnCondition[name]})` : ''}`).join(', ')}`);
    }
  }
  if (manifest.volumes?.length) {
    lines.push('volumes:');
    for (const volume of manifest.volumes) {
      const backup =
        volume.class === 'hot'
          ? 'in the guest backup'
          : volume.backup?.policy === 'none'
            ? `not backed up: ${volume.backup.reason}`
            : 'file-level backup';
      lines.push(`  ${volume.name}: ${volume.class}, ${backup}${volume.description ? ` (${volume.description})` : ''}`);
    }
  }
  if (manifest.secrets?.length) lines.push(`secrets (generated per instance): ${manifest.secrets.map((secret) => secret.name).join(', ')}`);
  if (manifest.parameters?.length) {
    lines.push('parameters:');
    for (const parameter of manifest.parameters) {
      lines.push(`  ${parameter.name} (${parameter.type}${parameter.required ? ', required' : parameter.default !== undefined ? `, default ${JSON.stringify(parameter.default)}` : ''}): ${parameter.description}`);
    }
  }
  for (const hook of manifest.backup?.preHooks ?? []) lines.push(`before backup, in ${hook.service}: ${hook.command.join(' ')}`);
  for (const hook of manifest.backup?.postHooks ?? []) lines.push(`after backup, in ${hook.service}: ${hook.command.join(' ')}`);
  const update = manifest.update ?? {};
  lines.push(
    `update: channel ${update.channel ?? 'stable'}, backup first: ${update.backupBeforeUpdate ?? true}, roll back on failed health check: ${update.rollbackOnFailedHealthCheck ?? true}`,
  );
  for (const port of manifest.exposedPorts ?? []) lines.push(`reachable outside the tunnel: ${port.service} ${port.port}/${port.protocol}: ${port.reason}`);
  return lines;
}

const command: CommandModule = {
  description: "show one catalog app's manifest",
  configure(cmd) {
    cmd.argument('[app]', 'catalog app name, for example immich').option('--json', 'print the manifest as JSON');
  },
  async run(context, args, options) {
    const [name] = args;
    if (!name) throw usageError('catalog show needs an app name (see felhom catalog list)');
    const manifest = loadManifest(name);
    if (options.json) context.out.json(manifest);
    else for (const line of describeManifest(manifest)) context.out.line(line);
  },
};

export default command;
