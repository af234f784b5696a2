// `felhom preview --previous <spec>` warns, before the real engine runs, about a rename that
// would replace a stateful resource (docs/box-spec.md#names-are-identities), and the engine's
// preview still runs after the offline comparison. Needs the Proxmox provider plugin, as
// test/cli/preview.test.ts does.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { felhom } from '../helpers/cli.js';
import { homeBox } from '../helpers/box-spec.js';

const dir = mkdtempSync(join(tmpdir(), 'felhom-preview-previous-'));
const renamed = join(dir, 'renamed.yaml');
writeFileSync(renamed, stringify(homeBox((s) => (s.spec.guests[0]!.name = 'family'))));

t.test('a renamed guest is warned about first, then the host tier previews on the real engine', async (t) => {
  const result = await felhom(['preview', renamed, '--tier', 'host', '--previous', 'examples/home-box.yaml']);
  const lines = result.stderr.split('\n');
  const warning = lines.findIndex((line) => line.startsWith('warning: guest "customer" → "family" (against examples/home-box.yaml) is a replacement'));
  t.ok(warning >= 0, result.stderr);
  t.equal(lines[warning + 1], '  host  proxmoxve:index/containerLegacy:ContainerLegacy  customer-container');
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /host tier, stack hb-0001\.host: \d+ to create/);
});

t.test('--json carries the renames beside the engine\'s steps', async (t) => {
  const result = await felhom(['preview', renamed, '--tier', 'host', '--json', '--previous', 'examples/home-box.yaml']);
  t.equal(result.code, 0, result.stderr);
  const preview = JSON.parse(result.stdout) as { tier: string; steps: unknown[]; renames: { kind: string; from: string; to: string }[]; deleted: unknown[] };
  t.equal(preview.tier, 'host');
  t.ok(preview.steps.length > 0);
  t.same(preview.renames.map(({ kind, from, to }) => `${kind} ${from} → ${to}`), ['guest customer → family']);
  t.same(preview.deleted, []);
});
