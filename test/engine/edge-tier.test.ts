// The edge tier on the real engine: the cloudflare plugin (6.17.0) knows every type and property
// the edge program uses, and `felhom preview --tier edge` of both example boxes prints its diff
// with the token masked. Part of `npm test`; `npm run test:edge` runs it alone. Where the
// cloudflare plugin is missing it fails naming it and how to install it: it never skips.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { felhom } from '../helpers/cli.js';
import { PREVIEW_CLOUDFLARE_API_TOKEN } from '../../stacks/environment.js';

const examples = {
  'home-box': fileURLToPath(new URL('../../examples/home-box.yaml', import.meta.url)),
  'company-box': fileURLToPath(new URL('../../examples/company-box.yaml', import.meta.url)),
};

// The schema check of test/engine/plugin-schemas.test.ts, for the cloudflare plugin alone.
process.env.FELHOM_SCHEMA_PLUGINS = 'cloudflare';
await import('./plugin-schemas.test.js');

t.test('the edge tier of both example boxes previews on the real engine with its diff', async (t) => {
  for (const [box, file] of Object.entries(examples)) {
    const edge = await felhom(['preview', file, '--tier', 'edge']);
    t.equal(edge.code, 0, `${box} edge: ${edge.stderr}`);
    t.match(edge.stdout, /^ {2}\+ {2}cloudflare:\S+ {2}\S+$/m, `${box} edge: Cloudflare resources to create`);
    t.notOk(edge.stdout.includes(PREVIEW_CLOUDFLARE_API_TOKEN), `${box} edge: the token is masked`);
  }
});
