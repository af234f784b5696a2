/**
 * The registry's handlers for the two custody jobs (docs/key-custody.md): they build the
 * contexts `runKeyCustodyJob` (./key-custody.ts) and `runDecommission` (./decommission.ts) take
 * from the agent's own services. Host tier only.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findProjectRoot } from '../../engine/locate.js';
import type { AgentContext } from '../context.js';
import { PROXMOX_TOKEN_REF } from '../environment.js';
import { UnsupportedJobError } from '../errors.js';
import { ProxmoxApiOperations } from '../proxmox-api-operations.js';
import { lastAppliedSpec } from '../specs.js';
import { readSecretFile } from '../state-dir.js';
import { runDecommission, type DecommissionBody } from './decommission.js';
import { PveDecommissionOperations } from './decommission-pve.js';
import type { JobHandler } from './index.js';
import { runKeyCustodyJob, type KeyCustodyBody } from './key-custody.js';

function hostTierOnly(ctx: AgentContext, action: string): void {
  if (ctx.tier !== 'host') throw new UnsupportedJobError(`a ${action} job runs on the host tier only, not on ${ctx.tier}`);
}

/** `key-custody`: who can open the box's PBS key. The daemon cannot ask the customer for the code, so the custodies that need it stall with ERECOVERY_CODE_NEEDED. */
export const keyCustodyJob: JobHandler = async (ctx, { verified, body }) => {
  hostTierOnly(ctx, 'key-custody');
  const spec = await lastAppliedSpec(ctx).catch(() => undefined);
  const operators = spec?.spec.backup.keyCustodyOperators;
  await runKeyCustodyJob({
    stateDir: ctx.stores.layout.root,
    box: ctx.box,
    audit: ctx.stores.audit,
    hub: ctx.hub,
    actor: verified.signers.join(','),
    envelopeDigest: verified.digest,
    ...(operators ? { specOperators: operators } : {}),
  }, body as unknown as KeyCustodyBody);
  return {};
};

/** `decommission`: final backup, hand-off bundle, then every credential revoked (over the PVE API). */
export const decommissionJob: JobHandler = async (ctx, { verified, body }) => {
  hostTierOnly(ctx, 'decommission');
  const api = ctx.host.operations;
  if (!(api instanceof ProxmoxApiOperations)) throw new UnsupportedJobError('a decommission job needs the Proxmox host over its API (FELHOM_PROXMOX_API), which this agent does not have');
  const token = await readSecretFile(join(ctx.stores.layout.secrets, PROXMOX_TOKEN_REF));
  if (!token) throw new UnsupportedJobError(`a decommission job needs the agent's own Proxmox API token in secrets/${PROXMOX_TOKEN_REF}`);
  const catalog = join(findProjectRoot(), 'templates', 'apps');
  await runDecommission({
    box: ctx.box,
    stateDir: ctx.stores.layout.root,
    audit: ctx.stores.audit,
    hub: ctx.hub,
    operations: new PveDecommissionOperations(api, token),
    logger: ctx.log,
    spec: await lastAppliedSpec(ctx),
    trustStore: ctx.stores.trustPath,
    hubApiKeyFile: ctx.stores.layout.hubApiKey,
    catalogManifest: (template) => readFile(join(catalog, template, '.felhom.yml'), 'utf8').catch(() => undefined),
    actor: verified.signers.join(','),
    envelopeDigest: verified.digest,
  }, body as unknown as DecommissionBody);
  return {};
};
