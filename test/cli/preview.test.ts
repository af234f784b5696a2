// `felhom preview` runs the real engine; on a machine without the provider plugins it says which
// are missing and how to install them (exit 3), and it never pretends to have previewed.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { felhom } from '../helpers/cli.js';

const example = fileURLToPath(new URL('../../examples/home-box.yaml', import.meta.url));

t.test('preview of the host tier fails naming the missing plugins and the install command', async (t) => {
  const result = await felhom(['preview', example, '--tier', 'host', '--state', t.testdir()]);
  t.equal(result.code, 3, 'exit 3: a failure outside the input');
  t.match(result.stderr, /EPLUGIN_MISSING/, 'the error code');
  t.match(result.stderr, /proxmoxve 8\.3\.0/, 'names the proxmoxve plugin');
  t.match(result.stderr, /npm run engine:install/, 'says how to install');
  t.equal(result.stdout, '', 'prints no preview');
});

t.test('preview validates the spec first: an invalid spec exits 1 without the engine', async (t) => {
  const dir = t.testdir();
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'apiVersion: felhom.dev/v1alpha1\nkind: Box\nmetadata: { box: x }\n');
  const result = await felhom(['preview', bad, '--tier', 'guest']);
  t.equal(result.code, 1, 'exit 1');
  t.match(result.stderr, /ESPEC/, 'a spec error');
});

t.test('preview refuses an unknown tier (usage, exit 2)', async (t) => {
  const result = await felhom(['preview', example, '--tier', 'moon']);
  t.equal(result.code, 2, 'exit 2');
});
