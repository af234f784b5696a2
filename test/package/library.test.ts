// The package as a library (package.json `exports`, docs/components.md#using-the-components-from-another-program):
// a separate small Pulumi program in a temp folder, with node_modules/felhom-infra linked to
// this repository, imports the BUILT package by its name, is typechecked against the shipped
// declarations, and plans under Pulumi's mocks (installed before the package is imported).
// It passes another component's outputs as inputs, so what it records proves the exports, the
// declarations and the pulumi.Input args together.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const project = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
t.setTimeout(300_000);

/** The consumer: its own package, mocks first, then the package through its public names. */
const PROGRAM = `import * as pulumi from '@pulumi/pulumi';

interface Seen { type: string; name: string; parent?: string; inputs: Record<string, unknown> }
const seen: Seen[] = [];
// The mocks go in before any felhom-infra module loads, as a user's unit test would do.
await pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      seen.push({ type: args.type, name: args.name, inputs: args.inputs });
      return { id: args.type === 'proxmoxve:index/containerLegacy:ContainerLegacy' ? '200' : args.name + '-id', state: args.inputs };
    },
    call: (args) => args.inputs,
  },
  'uses-felhom',
  'test',
  false,
);

const { BackupJob, CustomerLxc, StorageTarget, ComponentArgsError } = await import('felhom-infra/components');
const { stackName, tierProgram } = await import('felhom-infra/stacks');
const { validateBoxSpec } = await import('felhom-infra/spec');

const nas = new StorageTarget('nas', { type: 'nfs', storageId: 'nas', class: 'slow', roles: ['backup'], server: 'nas.lan', export: '/volume1/felhom' });
const template = pulumi.output('local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst');
const guest = new CustomerLxc('customer', { node: 'pve', vmId: 200, hostname: 'customer', osTemplateFileId: template });
const job = new BackupJob('nightly', { jobId: 'nightly', storage: nas.storageId, schedule: '*-*-* 02:30', vmIds: [guest.vmId], keepDaily: 7 });

// The declarations are real: a wrong type does not compile.
export function neverCalled(): void {
  // @ts-expect-error vmId is a number
  new CustomerLxc('wrong', { node: 'pve', vmId: 'two hundred', hostname: 'customer', osTemplateFileId: 'x' });
}

let refused = '';
try {
  new CustomerLxc('bad', { node: 'pve', vmId: 1, hostname: 'customer', osTemplateFileId: 'x' });
} catch (error) {
  if (error instanceof ComponentArgsError) refused = error.problems.map((problem) => problem.field).join(',');
}

await new Promise<void>((resolve) => job.schedule.apply(() => resolve()));
const jobSeen = () => seen.some((resource) => resource.type === 'proxmoxve:backup/job:Job');
while (!jobSeen()) await new Promise((resolve) => setTimeout(resolve, 10));

let notExported = '';
try {
  await import('felhom-infra/' + 'runner/agent/agent.js');
} catch (error) {
  notExported = (error as { code?: string }).code ?? String(error);
}

const validation = validateBoxSpec({ apiVersion: 'felhom.dev/v1alpha1', kind: 'Box' });
console.log(JSON.stringify({
  resources: seen.map(({ type, name, inputs }) => ({ type, name, inputs })),
  refused,
  notExported,
  stack: stackName('hb-0001', 'host'),
  tierProgram: typeof tierProgram,
  specValid: validation.ok,
}));
`;

t.test('a separate Pulumi program imports the built package by name and plans under mocks', async (t) => {
  if (!existsSync(join(project, 'dist', 'components', 'index.d.ts'))) throw new Error('dist/ has no declarations: run npm run build first');
  const dir = await mkdtemp(join(tmpdir(), 'felhom-library-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'node_modules'));
  await symlink(project, join(dir, 'node_modules', 'felhom-infra'));
  // The program's own dependencies: the same @pulumi/pulumi the package resolves, and Node's types.
  await symlink(join(project, 'node_modules', '@pulumi'), join(dir, 'node_modules', '@pulumi'));
  await symlink(join(project, 'node_modules', '@types'), join(dir, 'node_modules', '@types'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'uses-felhom', private: true, type: 'module', dependencies: { 'felhom-infra': '*', '@pulumi/pulumi': '*' } }));
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'es2023', module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2023'], types: ['node'], strict: true, skipLibCheck: true, outDir: 'out' },
    files: ['index.ts'],
  }));
  await writeFile(join(dir, 'index.ts'), PROGRAM);

  // Typechecked against dist/*.d.ts through the exports map (a missing `types` would fail here).
  await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir }).catch((error: { stdout?: string }) => {
    throw new Error(`the consumer does not compile against the package's declarations:\n${error.stdout}`);
  });
  const { stdout } = await run(process.execPath, [join(dir, 'out', 'index.js')], { cwd: dir });
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as {
    resources: { type: string; name: string; inputs: Record<string, any> }[];
    refused: string;
    notExported: string;
    stack: string;
    tierProgram: string;
    specValid: boolean;
  };

  t.same(result.resources.map((resource) => `${resource.type}::${resource.name}`).sort(), [
    'felhom:host:BackupJob::nightly',
    'felhom:host:CustomerLxc::customer',
    'felhom:host:StorageTarget::nas',
    'proxmoxve:backup/job:Job::nightly-job',
    'proxmoxve:index/containerLegacy:ContainerLegacy::customer-container',
    'proxmoxve:storage/nfs:Nfs::nas-storage',
  ], 'the components and their children, and nothing else');
  const find = (type: string) => result.resources.find((resource) => resource.type === type)!;
  t.match(find('proxmoxve:index/containerLegacy:ContainerLegacy').inputs, {
    nodeName: 'pve', vmId: 200, unprivileged: true, protection: true,
    operatingSystem: { templateFileId: 'local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst' },
  }, 'the container, with the template given as an output');
  t.match(find('proxmoxve:storage/nfs:Nfs').inputs, { resourceId: 'nas', server: 'nas.lan', export: '/volume1/felhom', contents: ['backup'] });
  t.match(find('proxmoxve:backup/job:Job').inputs, { storage: 'nas', vmids: ['200'], pruneBackups: { 'keep-daily': '7' } }, 'the job, from the storage\'s and the guest\'s outputs');
  t.equal(result.refused, 'vmId,osTemplateFileId', 'bad plain args are refused with the ComponentArgsError class the package exports');
  t.equal(result.notExported, 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'only the exported entry points are reachable');
  t.equal(result.stack, 'hb-0001.host');
  t.equal(result.tierProgram, 'function');
  t.equal(result.specValid, false, 'the spec validator runs (and refuses an empty spec)');
});
