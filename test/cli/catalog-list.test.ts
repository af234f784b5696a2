import t from 'tap';
import { felhom } from '../helpers/cli.js';

t.test('catalog list --json lists every app with its volume classes', async (t) => {
  const result = await felhom(['catalog', 'list', '--json']);
  t.equal(result.code, 0);
  const apps = JSON.parse(result.stdout) as { name: string; hotVolumes: number; bulkVolumes: number }[];
  t.ok(apps.length >= 12);
  t.match(apps.find((app) => app.name === 'immich'), { name: 'immich', hotVolumes: 3, bulkVolumes: 1, unpinnedImages: 0 });
  t.match(apps.find((app) => app.name === 'nextcloud'), { name: 'nextcloud', unpinnedImages: 2 }, 'app and cron are pinned by tag only');
});

t.test('catalog list prints a table with a header and one row per app', async (t) => {
  const result = await felhom(['catalog', 'list']);
  t.equal(result.code, 0);
  const lines = result.stdout.trimEnd().split('\n');
  t.match(lines[0], /^NAME\s+VERSION\s+SERVICES\s+VOLUMES \(hot\/bulk\)\s+MIN RAM\s+TITLE$/);
  t.ok(lines.some((line) => /^paperless-ngx\s+2\.20\.14\s+3\s+4\/3\s+2048 MiB\s+Paperless-ngx$/.test(line)));
});
