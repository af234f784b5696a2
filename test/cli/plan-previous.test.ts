// `felhom plan --previous <spec>`: spec names are Pulumi names (docs/box-spec.md#names-are-identities),
// so a rename that would replace a stateful resource is flagged: old → new and the resources.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { felhom } from '../helpers/cli.js';
import { homeBox } from '../helpers/box-spec.js';

const dir = mkdtempSync(join(tmpdir(), 'felhom-plan-previous-'));
function specFile(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : stringify(content));
  return file;
}

const renamed = specFile('renamed.yaml', homeBox((s) => {
  s.spec.guests[0]!.name = 'family';
  s.spec.apps![0]!.name = 'pictures';
}));

t.test('a renamed guest and app are warned about on stderr with the resources they would replace', async (t) => {
  const result = await felhom(['plan', renamed, '--brief', '--tier', 'host,guest', '--previous', 'examples/home-box.yaml']);
  t.equal(result.code, 0, 'a warning, not a refusal');
  t.match(result.stdout, /^host tier: stack hb-0001\.host/m, 'the plan is still printed');
  const lines = result.stderr.split('\n');
  const guest = lines.findIndex((line) => line.startsWith('warning: guest "customer" → "family" (against examples/home-box.yaml) is a replacement'));
  t.ok(guest >= 0, result.stderr);
  t.equal(lines[guest + 1], '  host  proxmoxve:index/containerLegacy:ContainerLegacy  customer-container');
  const app = lines.findIndex((line) => line.startsWith('warning: app "photos" → "pictures"'));
  t.ok(app > guest);
  t.match(lines.slice(app + 1, app + 5).join('\n'), /guest  docker:index\/volume:Volume  photos-volume-database/);
  t.match(result.stderr, /see docs\/box-spec\.md#names-are-identities\n$/);
  t.notMatch(result.stdout, /warning:/, 'warnings stay off stdout');
});

t.test('--json carries renames and deleted beside the plan', async (t) => {
  const result = await felhom(['plan', renamed, '--json', '--tier', 'host', '--previous', 'examples/home-box.yaml']);
  t.equal(result.code, 0, result.stderr);
  const plan = JSON.parse(result.stdout) as { renames: { kind: string; from: string; to: string; replaced: { tier: string; type: string; name: string }[] }[]; deleted: unknown[] };
  t.same(plan.renames, [{ kind: 'guest', from: 'customer', to: 'family', replaced: [{ tier: 'host', type: 'proxmoxve:index/containerLegacy:ContainerLegacy', name: 'customer-container' }] }]);
  t.same(plan.deleted, []);
  t.equal(result.stderr, '');
});

t.test('the same spec as --previous warns about nothing; without --previous there is no renames field', async (t) => {
  const same = await felhom(['plan', 'examples/home-box.yaml', '--brief', '--previous', 'examples/home-box.yaml']);
  t.equal(same.code, 0);
  t.equal(same.stderr, '');
  const plain = await felhom(['plan', 'examples/home-box.yaml', '--json', '--tier', 'edge']);
  t.notOk('renames' in (JSON.parse(plain.stdout) as object));
});

t.test('an invalid previous spec is refused by name, exit 1', async (t) => {
  const broken = specFile('broken-previous.yaml', homeBox((s) => (s.spec.guests[0]!.vmId = 5)));
  const result = await felhom(['plan', 'examples/home-box.yaml', '--brief', '--previous', broken]);
  t.equal(result.code, 1);
  t.match(result.stderr, /ESPEC: .*broken-previous\.yaml.*\n.*spec\.guests\[0\]\.vmId/);
});

t.test('a renamed box names its new stacks; a removed app lists what it deletes', async (t) => {
  const renamedBox = specFile('renamed-box.yaml', homeBox((s) => {
    s.metadata.box = 'hb-0002';
    s.spec.edge!.tunnel = { ...s.spec.edge!.tunnel!, name: 'felhom-hb-0001' };
  }));
  const box = await felhom(['plan', renamedBox, '--brief', '--tier', 'host', '--previous', 'examples/home-box.yaml']);
  t.equal(box.code, 0, box.stderr);
  t.match(box.stderr, /^warning: box "hb-0001" → "hb-0002" \(against examples\/home-box\.yaml\) means new stacks \(hb-0002\.<tier>\): these stateful resources are created again there, while the old stacks still hold them:\n(  host  .*\n)+/m);
  t.match(box.stderr, /^ {2}host {2}proxmoxve:index\/containerLegacy:ContainerLegacy {2}customer-container$/m);

  const withoutPhotos = specFile('without-photos.yaml', homeBox((s) => (s.spec.apps = s.spec.apps!.filter((app) => app.name !== 'photos'))));
  const removed = await felhom(['plan', withoutPhotos, '--brief', '--tier', 'guest', '--previous', 'examples/home-box.yaml']);
  t.equal(removed.code, 0, removed.stderr);
  t.match(removed.stderr, /^warning: stateful resources of examples\/home-box\.yaml that this spec deletes:\n {2}guest {2}docker:index\/volume:Volume {2}photos-volume-database$/m);
  t.notMatch(removed.stderr, /is a replacement/);
});
