/**
 * Data placement (docs/architecture.md#data-placement): hot data (databases, config) lives on fast storage inside the guest
 * backup; bulk data (media, files) lives on the declared bulk targets and stays out of the guest
 * vzdump unless the spec opts a mount point in.
 */
import type { ResolvedApp } from '../../stacks/spec/resolve.js';
import { asArray, asRecord, describe, isLxcContainer, TYPES } from '../resources.js';
import type { BoxContext, PolicyResource, PolicyRule, Violation } from '../types.js';
import { guestOf } from './guest-hardening.js';

/** The one host path a guest container may bind besides bulk volumes: Traefik's read-only Docker socket. */
export const TRAEFIK_SOCKET = '/var/run/docker.sock';

function checkGuestContainer(resource: PolicyResource, context: BoxContext): string[] {
  const messages: string[] = [];
  const storages = new Map(context.box.storage.map((storage) => [storage.name, storage]));
  const rootStorage = asRecord(resource.inputs.disk).datastoreId;
  if (typeof rootStorage === 'string' && rootStorage !== context.box.host.rootStorage) {
    const storage = storages.get(rootStorage);
    if (!storage || storage.class !== 'fast' || !storage.roles.includes('rootfs')) {
      messages.push(`${describe(resource)} puts its root filesystem (hot data) on "${rootStorage}", which is not fast rootfs storage: use the host's root storage "${context.box.host.rootStorage}" or a class fast storage with the rootfs role`);
    }
  }
  const guest = guestOf(resource, context);
  for (const [index, entry] of asArray(resource.inputs.mountPoints).entries()) {
    const mount = asRecord(entry);
    const volume = String(mount.volume);
    const storage = storages.get(volume);
    if (volume.startsWith('/')) continue; // a host bind mount: guest-hardening reports it
    if (!storage || !storage.roles.includes('bulk')) {
      messages.push(`${describe(resource)} mountPoints[${index}] is on "${volume}", which is not a declared bulk storage: mount points hold bulk data and must be on a spec.storage entry with the bulk role`);
    }
    const optedIn = guest?.mounts.find((candidate) => candidate.storage === volume)?.backup === true;
    if (mount.backup === true && !optedIn) {
      messages.push(`${describe(resource)} mountPoints[${index}] ("${volume}") is included in the guest backup, but the spec does not opt it in: set backup: false, or set spec.guests[].mounts[].backup: true if the bulk data must ride the guest vzdump`);
    }
  }
  return messages;
}

function appOf(resource: PolicyResource, context: BoxContext): ResolvedApp | undefined {
  if (resource.parentType !== TYPES.appStack) return undefined;
  return context.box.apps.find((app) => app.name === resource.parent);
}

function checkDockerContainer(resource: PolicyResource, context: BoxContext): string[] {
  const messages: string[] = [];
  const app = appOf(resource, context);
  for (const [index, entry] of asArray(resource.inputs.volumes).entries()) {
    const volume = asRecord(entry);
    const hostPath = volume.hostPath;
    if (typeof hostPath !== 'string') continue;
    if (resource.parentType === TYPES.traefik && hostPath === TRAEFIK_SOCKET && volume.readOnly === true) continue;
    const placed = app?.volumes.find((candidate) => candidate.hostPath === hostPath);
    if (placed?.class === 'hot') {
      messages.push(`${describe(resource)} volumes[${index}] puts the hot volume "${placed.name}" on the bulk path ${hostPath}: hot data must stay in a Docker volume on the guest's fast rootfs; remove the spec.apps[].volumes override for it`);
    } else if (!placed) {
      messages.push(`${describe(resource)} volumes[${index}] bind-mounts ${JSON.stringify(hostPath)}, which is no bulk volume the spec places: bind only bulk volumes, under /mnt/bulk/<storage>/<app>/<volume> of a declared mount`);
    }
  }
  return messages;
}

export const dataPlacement: PolicyRule = {
  name: 'data-placement',
  description: 'Hot volumes stay on fast storage; bulk volumes sit on declared bulk targets; bulk mount points are out of the guest backup unless the spec opts them in.',
  level: 'mandatory',
  remediation: 'Classify volumes in the app manifest (hot/bulk), place bulk volumes only on storages with the bulk role, and opt a mount point into the guest backup only with spec.guests[].mounts[].backup: true.',
  tiers: ['host', 'guest'],
  needsBox: true,
  checkResource(resource, context) {
    if (!context.box) return [];
    const boxContext = context as BoxContext;
    if (context.tier === 'host' && isLxcContainer(resource.type)) return checkGuestContainer(resource, boxContext);
    if (context.tier === 'guest' && resource.type === TYPES.dockerContainer) return checkDockerContainer(resource, boxContext);
    return [];
  },
  checkStack(_resources, context) {
    if (!context.box || context.tier !== 'guest') return [];
    const violations: Violation[] = [];
    for (const app of context.box.apps) {
      for (const volume of app.volumes) {
        if (volume.class === 'hot' && volume.storage !== 'rootfs') {
          violations.push({ message: `app "${app.name}" places its hot volume "${volume.name}" on storage "${volume.storage}": hot data stays on the guest rootfs; remove spec.apps[].volumes.${volume.name}` });
        }
      }
    }
    return violations;
  },
};
