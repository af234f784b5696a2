import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { felhom } from '../helpers/cli.js';
import { parseManifest } from '../../templates/lib/catalog.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'compose');

t.test('without --out the draft YAML goes to stdout with the volume reasons as comments', async (t) => {
  const result = await felhom(['catalog', 'import', join(FIXTURES, 'mealie', 'docker-compose.yml')]);
  t.equal(result.code, 0);
  t.match(result.stdout, /^# Draft imported by `felhom catalog import`/);
  t.match(result.stdout, /# hot: mounted by database service postgres \(postgres:15\) at \/var\/lib\/postgresql\/data/);
  // The printed draft is a manifest the catalog accepts.
  t.equal(parseManifest(result.stdout, 'stdout', 'mealie').http?.port, 9000);
});

t.test('with --out it writes <dir>/<name>/.felhom.yml and prints each volume class and reason', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'felhom-catalog-out-'));
  const result = await felhom(['catalog', 'import', join(FIXTURES, 'immich', 'docker-compose.yml'), '--out', out]);
  t.equal(result.code, 0);
  const target = join(out, 'immich', '.felhom.yml');
  t.ok(existsSync(target));
  t.match(result.stdout, `wrote ${target}`);
  t.match(result.stdout, /library\s+bulk\s+ghcr\.io\/immich-app\/immich-server:\S+ keeps the uploaded photos and videos/);
  t.match(result.stdout, /postgres\s+hot\s+mounted by database service database/);
});

t.test('an existing manifest is never overwritten without --force', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'felhom-catalog-out-'));
  const compose = join(FIXTURES, 'forgejo', 'docker-compose.yml');
  t.equal((await felhom(['catalog', 'import', compose, '--out', out, '--name', 'git'])).code, 0);
  const target = join(out, 'git', '.felhom.yml');
  writeFileSync(target, '# edited by the operator\n');
  const refused = await felhom(['catalog', 'import', compose, '--out', out, '--name', 'git']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /^felhom: EEXIST: .*already exists; pass --force/);
  t.equal(readFileSync(target, 'utf8'), '# edited by the operator\n');
  const forced = await felhom(['catalog', 'import', compose, '--out', out, '--name', 'git', '--force']);
  t.equal(forced.code, 0);
  t.match(readFileSync(target, 'utf8'), /name: git/);
});

t.test('a refused compose file exits 1, names every reason and writes nothing', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'felhom-catalog-out-'));
  const result = await felhom(['catalog', 'import', join(FIXTURES, 'home-assistant', 'docker-compose.yml'), '--out', out]);
  t.equal(result.code, 1);
  t.match(result.stderr, /felhom: EREFUSED: .*refused, the platform will not run these \(3 reasons\)/);
  t.match(result.stderr, /services\.homeassistant\.privileged: refused: service homeassistant runs privileged/);
  t.match(result.stderr, /services\.homeassistant\.network_mode: refused: service homeassistant uses the host network/);
  t.notOk(existsSync(join(out, 'home-assistant')));
});

t.test('a compose file that does not parse exits 1 with ECOMPOSE and the line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'felhom-catalog-bad-'));
  writeFileSync(join(dir, 'compose.yml'), 'services:\n  app:\n    image: [x\n');
  const result = await felhom(['catalog', 'import', join(dir, 'compose.yml'), '--out', dir]);
  t.equal(result.code, 1);
  t.match(result.stderr, /felhom: ECOMPOSE: .*cannot be imported/);
  t.match(result.stderr, /\(document\): not valid YAML at line \d+/);
});

t.test('--json reports the draft, the classes and the notes', async (t) => {
  const result = await felhom(['catalog', 'import', join(FIXTURES, 'paperless-ngx', 'docker-compose.yml'), '--json']);
  t.equal(result.code, 0);
  const report = JSON.parse(result.stdout);
  t.equal(report.written, null);
  t.equal(report.manifest.name, 'paperless-ngx');
  t.match(report.volumes, [{ volume: 'redisdata', class: 'hot' }, { volume: 'pgdata', class: 'hot' }, { volume: 'data', class: 'hot', needsConfirmation: false }]);
  t.match(report.draftProblems, [{ path: 'services[2].tag' }]);
});

t.test('a missing compose file is a failure outside the input (exit 3)', async (t) => {
  const result = await felhom(['catalog', 'import', '/nonexistent/compose.yml']);
  t.equal(result.code, 3);
  t.match(result.stderr, /EFILE: cannot read \/nonexistent\/compose\.yml: ENOENT/);
});

t.test('an invalid --name is rejected before anything is written', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'felhom-catalog-out-'));
  const result = await felhom(['catalog', 'import', join(FIXTURES, 'mealie', 'docker-compose.yml'), '--out', out, '--name', 'My App']);
  t.equal(result.code, 1);
  t.match(result.stderr, /--name: expected a catalog name/);
  t.notOk(existsSync(join(out, 'My App')));
});
