import t from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCatalog, loadManifest, ManifestError, parseManifest, UnknownAppError } from '../../templates/lib/catalog.js';

const REQUIRED_APPS = [
  'nextcloud', 'immich', 'jellyfin', 'vaultwarden', 'paperless-ngx', 'home-assistant',
  'forgejo', 'uptime-kuma', 'syncthing', 'audiobookshelf',
];

t.test('every catalog manifest validates and at least twelve apps ship', async (t) => {
  const catalog = loadCatalog();
  t.ok(catalog.size >= 12, `catalog has ${catalog.size} apps`);
  for (const name of REQUIRED_APPS) t.ok(catalog.has(name), `${name} is in the catalog`);
  for (const [name, manifest] of catalog) t.equal(manifest.name, name, `${name}: manifest name matches its directory`);
});

t.test('every catalog image is pinned to a version, never a floating tag', async (t) => {
  for (const manifest of loadCatalog().values()) {
    for (const service of manifest.services) t.notMatch(service.tag, /^(latest|stable|release)$/, `${manifest.name}/${service.name}`);
  }
});

t.test("Immich's database volume is hot and its library volume is bulk", async (t) => {
  const immich = loadManifest('immich');
  const volume = (name: string) => immich.volumes?.find((candidate) => candidate.name === name);
  const database = immich.services.find((service) => service.name === 'database')!;
  const databaseVolume = database.mounts!.find((mount) => mount.path === '/var/lib/postgresql/data')!.volume;
  t.equal(volume(databaseVolume)?.class, 'hot');
  const server = immich.services.find((service) => service.name === 'immich-server')!;
  t.equal(volume(server.mounts![0]!.volume)?.class, 'bulk');
  t.same(immich.http, { service: 'immich-server', port: 2283 });
});

t.test('loading an app the catalog lacks throws UnknownAppError naming the known apps', async (t) => {
  const error = t.throws(() => loadManifest('no-such-app')) as UnknownAppError;
  t.type(error, UnknownAppError);
  t.equal(error.code, 'EUNKNOWNAPP');
  t.match(error.message, /immich/);
});

t.test('a catalog directory whose manifest is invalid stops the load with every problem', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'felhom-catalog-'));
  mkdirSync(join(dir, 'broken'));
  writeFileSync(join(dir, 'broken', '.felhom.yml'), 'apiVersion: felhom.dev/app/v1alpha1\nname: other\ntitle: x\ndescription: x\nversion: "1"\nservices: []\n');
  const error = t.throws(() => loadCatalog(dir)) as ManifestError;
  t.type(error, ManifestError);
  t.equal(error.code, 'EMANIFEST');
  t.same(error.problems, [
    { path: 'services', message: 'expected at least one entry, got an empty list' },
    { path: 'name', message: 'expected "broken" (the directory name), got "other"' },
  ]);
});

t.test('manifest text that is not YAML is a ManifestError with the line number', async (t) => {
  const error = t.throws(() => parseManifest('name: [oops\n', 'x.yml')) as ManifestError;
  t.type(error, ManifestError);
  t.match(error.problems[0]!.message, /^not valid YAML at line \d+, column \d+/);
});
