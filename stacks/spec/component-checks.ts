/**
 * The components' own argument rules, run by the box spec validator on the arguments the tier
 * programs would build (stacks/args.ts): one rule, one place, used by `validate` and `plan`.
 * Each component field is mapped back to the spec field it comes from, so the problem carries
 * the spec's path (and so its line).
 */
import { appStackRules } from '../../components/rules/app-stack.js';
import { backupJobRules, KEEP_FIELDS } from '../../components/rules/backup-job.js';
import { customerLxcRules } from '../../components/rules/customer-lxc.js';
import { geoWafRules } from '../../components/rules/geo-waf.js';
import { storageTargetRules } from '../../components/rules/storage-target.js';
import { checkRules, type Rule } from '../../components/validation.js';
import type { GoldenTemplate } from '../../templates/lib/golden.js';
import { appStackArgs, backupJobArgs, customerLxcArgs, geoWafArgs, storageTargetArgs } from '../args.js';
import type { Problem } from '../../templates/lib/problems.js';
import { resolveBox } from './resolve.js';
import type { BoxSpec } from './types.js';
import type { CatalogLookup } from './validate.js';

/** Component field → spec path, per component; a field not listed maps to `fallback`. */
function mapped<A>(rules: readonly Rule<A>[], args: A, fields: Readonly<Record<string, string>>, fallback: string, component: string): Problem[] {
  return checkRules(rules, args).map((problem) => {
    const path = fields[problem.field] ?? fields[problem.field.split('.')[0]!] ?? fallback;
    return { path, message: path === fallback && !(problem.field in fields) ? `${component} ${problem.field}: ${problem.message}` : problem.message };
  });
}

/** The problems the components would raise for a shape-valid spec; [] when it cannot be resolved. */
export function componentProblems(spec: BoxSpec, catalog: CatalogLookup, golden: GoldenTemplate): Problem[] {
  let box;
  try {
    box = resolveBox(spec, catalog, golden.sizing);
  } catch {
    return []; // an unknown template or guest: the validator's own rules report it
  }
  const problems: Problem[] = [];
  box.storage.forEach((storage, i) => {
    const at = `spec.storage[${i}]`;
    problems.push(
      ...mapped(storageTargetRules, storageTargetArgs(storage, box, () => '(secret)'), {
        storageId: `${at}.name`, class: `${at}.class`, iops: `${at}.iops`, roles: `${at}.roles`, path: `${at}.path`, nodes: 'spec.host.node',
        server: `${at}.identity`, export: `${at}.identity`, share: `${at}.identity`, datastore: `${at}.identity`, fingerprint: `${at}.identity`,
        options: `${at}.options`, namespace: `${at}.namespace`, username: `${at}.username`, domain: `${at}.domain`,
      }, at, 'StorageTarget'),
    );
  });
  box.guests.forEach((guest, g) => {
    const at = `spec.guests[${g}]`;
    problems.push(
      ...mapped(customerLxcRules, customerLxcArgs(guest, box, golden), {
        node: 'spec.host.node', vmId: `${at}.vmId`, hostname: `${at}.name`, osTemplateFileId: 'spec.host.templateStorage',
        cores: `${at}.cores`, memoryMiB: `${at}.memoryMiB`, swapMiB: `${at}.swapMiB`, diskGiB: `${at}.diskGiB`, rootStorage: 'spec.host.rootStorage',
        mountPoints: `${at}.mounts`, 'network.ipv4': `${at}.network.ipv4`, 'network.gateway': `${at}.network.gateway`,
        'network.bridge': `${at}.network.bridge`, 'network.vlan': `${at}.network.vlan`, tags: `${at}.tags`,
      }, at, 'CustomerLxc'),
    );
  });
  box.backup.jobs.forEach((job, j) => {
    const at = `spec.backup.jobs[${j}]`;
    const retention = Object.fromEntries(KEEP_FIELDS.map((keep) => [keep, `${at}.retention`]));
    problems.push(
      ...mapped(backupJobRules, backupJobArgs(job, box), {
        jobId: `${at}.name`, storage: `${at}.storage`, schedule: `${at}.schedule`, vmIds: `${at}.guests`, node: 'spec.host.node', mode: `${at}.mode`, ...retention,
      }, at, 'BackupJob'),
    );
  });
  box.apps.forEach((app, a) => {
    const at = `spec.apps[${a}]`;
    problems.push(
      ...mapped(appStackRules, appStackArgs(app), {
        instanceName: `${at}.name`, hostname: `${at}.hostname`, manifest: `${at}.template`, 'manifest.services[].environment': `${at}.template`,
        parameters: `${at}.parameters`, placement: `${at}.volumes`,
      }, at, 'AppStack'),
    );
  });
  const geo = geoWafArgs(box);
  if (geo) {
    problems.push(
      ...mapped(geoWafRules, geo, {
        zoneId: 'spec.edge.cloudflare.zoneId', mode: 'spec.edge.geo.mode', countries: 'spec.edge.geo.countries', exemptHostnames: 'spec.edge.geo.exemptHostnames',
      }, 'spec.edge.geo', 'GeoWaf'),
    );
  }
  return problems;
}
