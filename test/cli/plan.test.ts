import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { felhom } from '../helpers/cli.js';
import { homeBox } from '../helpers/box-spec.js';

const dir = mkdtempSync(join(tmpdir(), 'felhom-plan-cli-'));
function specFile(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : stringify(content));
  return file;
}

t.test('plan prints all three tiers of the example home box', async (t) => {
  const result = await felhom(['plan', 'examples/home-box.yaml', '--brief']);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /^edge tier: stack hb-0001\.edge, \d+ resources$/m);
  t.match(result.stdout, /^host tier: stack hb-0001\.host, \d+ resources$/m);
  t.match(result.stdout, /^guest tier: stack hb-0001\.guest, \d+ resources$/m);
});

t.test('plan --json gives tiers, resources with type, name, parent and inputs', async (t) => {
  const result = await felhom(['plan', 'examples/home-box.yaml', '--tier', 'host', '--json']);
  t.equal(result.code, 0, result.stderr);
  const plan = JSON.parse(result.stdout) as { tiers: Record<string, { resources: { type: string; name: string; parent?: string; inputs: Record<string, unknown> }[] }> };
  t.same(Object.keys(plan.tiers), ['host']);
  const container = plan.tiers.host!.resources.find((resource) => resource.name === 'customer-container')!;
  t.equal(container.parent, 'customer');
  t.equal(container.inputs.vmId, 200);
});

t.test('plan masks secrets in the printed inputs', async (t) => {
  const result = await felhom(['plan', 'examples/home-box.yaml', '--tier', 'host']);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /\[secret\]/);
  t.notMatch(result.stdout, /<ref:pbs-token>|<proxmox-api-token>/);
});

t.test('an invalid spec lists every problem, exits 1, and plans nothing', async (t) => {
  const file = specFile('invalid.yaml', homeBox((s) => {
    Object.assign(s.spec.apps![0]!, { template: 'plex', hostname: 'photos.example.org' });
    Object.assign(s.spec.backup.jobs[0]!, { storage: 'missing' });
  }));
  const result = await felhom(['plan', file]);
  t.equal(result.code, 1);
  t.equal(result.stdout, '', 'no plan is printed');
  t.match(result.stderr, /ESPEC: .*3 problems in the box spec/);
  t.match(result.stderr, /spec\.apps\[0\]\.template: unknown app template "plex"/);
  t.match(result.stderr, /spec\.apps\[0\]\.hostname: "photos\.example\.org" is outside the customer domain/);
  t.match(result.stderr, /spec\.backup\.jobs\[0\]\.storage: no storage named "missing"/);
  t.notMatch(result.stderr, /^\s+at /m, 'no stack trace');
});

t.test('YAML that does not parse exits 1 with its line', async (t) => {
  const result = await felhom(['plan', specFile('broken.yaml', 'spec: [oops\n')]);
  t.equal(result.code, 1);
  t.match(result.stderr, /\(yaml\) line \d+, column \d+/);
});

t.test('a missing file exits 3 (an unreadable input, as the README says) naming the file', async (t) => {
  const result = await felhom(['plan', join(dir, 'nope.yaml')]);
  t.equal(result.code, 3);
  t.match(result.stderr, /nope\.yaml.*\n.*\(file\): cannot read: ENOENT/);
});

t.test('usage errors exit 2', async (t) => {
  t.equal((await felhom(['plan'])).code, 2, 'missing argument');
  t.equal((await felhom(['plan', 'examples/home-box.yaml', '--tier', 'cloud'])).code, 2, 'unknown tier');
  t.equal((await felhom(['plan', 'examples/home-box.yaml', '--colour'])).code, 2, 'unknown option');
  t.equal((await felhom(['frobnicate'])).code, 2, 'unknown command');
});

t.test('validate --json lists problems with paths', async (t) => {
  const file = specFile('dup.yaml', homeBox((s) => Object.assign(s.spec.guests[0]!, { vmId: 'two hundred' })));
  const result = await felhom(['validate', file, '--json']);
  t.equal(result.code, 1);
  const problems = JSON.parse(result.stdout).problems as { path: string; message: string }[];
  t.equal(problems.length, 1);
  t.equal(problems[0]!.path, 'spec.guests[0].vmId');
  t.match(problems[0]!.message, /^expected an integer, got "two hundred" \(line \d+\)$/);
});

t.test('validate accepts the company box', async (t) => {
  const result = await felhom(['validate', 'examples/company-box.yaml']);
  t.equal(result.code, 0);
  t.match(result.stdout, /valid box spec cb-0007 \(customer c-2210, 3 guests, 4 apps\)/);
});
