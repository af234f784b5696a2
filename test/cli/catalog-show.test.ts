import t from 'tap';
import { felhom } from '../helpers/cli.js';

t.test('catalog show describes where each volume lives and how it is backed up', async (t) => {
  const result = await felhom(['catalog', 'show', 'jellyfin']);
  t.equal(result.code, 0);
  t.match(result.stdout, /http: jellyfin:8096\//);
  t.match(result.stdout, /config: hot, in the guest backup/);
  t.match(result.stdout, /media: bulk, not backed up: Media libraries are large/);
  t.match(result.stdout, /update: channel stable, backup first: true, roll back on failed health check: true/);
});

t.test('catalog show --json prints the manifest', async (t) => {
  const result = await felhom(['catalog', 'show', 'forgejo', '--json']);
  t.equal(result.code, 0);
  const manifest = JSON.parse(result.stdout);
  t.equal(manifest.name, 'forgejo');
  t.match(manifest.exposedPorts, [{ service: 'server', port: 22, protocol: 'tcp' }]);
});

t.test('catalog show of an unknown app exits 1 with EUNKNOWNAPP', async (t) => {
  const result = await felhom(['catalog', 'show', 'wordpress']);
  t.equal(result.code, 1);
  t.match(result.stderr, /^felhom: EUNKNOWNAPP: no catalog app named "wordpress" \(known: audiobookshelf, /);
});

t.test('catalog show without an app is a usage error', async (t) => {
  const result = await felhom(['catalog', 'show']);
  t.equal(result.code, 2);
  t.match(result.stderr, /EUSAGE/);
});
