import t from 'tap';
import { effectiveLevel } from '../../../policies/check.js';
import { imagesPinned } from '../../../policies/rules/supply-chain.js';
import { homeBox } from '../../helpers/box-spec.js';
import { catalog, check, messages, pinnedCatalog, plan, unpinnedCatalog } from '../../helpers/policies.js';

const IMAGE = 'docker:index/remoteImage:RemoteImage';

t.test('a box whose images are all pinned by digest passes', async (t) => {
  const result = await plan(homeBox(), ['guest'], pinnedCatalog);
  t.same(check(imagesPinned, result, 'guest'), []);
});

t.test('an image pulled by tag is refused with where its digest goes', async (t) => {
  const result = await plan(homeBox((spec) => (spec.spec.apps = [{ name: 'vault', template: 'vaultwarden' }])), ['guest'], unpinnedCatalog);
  const service = catalog('vaultwarden')!.services.find((candidate) => candidate.name === 'vaultwarden')!;
  t.same(messages(check(imagesPinned, result, 'guest')), [
    `${IMAGE} "vault-image-vaultwarden" pulls "${service.image}:${service.tag}" by tag, which can change under it: add digest: sha256:... to service "vaultwarden" in templates/apps/vaultwarden/.felhom.yml`,
  ]);
});

t.test('the rule is mandatory on production boxes and advisory on lab boxes', async (t) => {
  const production = await plan(homeBox((spec) => delete spec.spec.policy), ['host']);
  const lab = await plan(homeBox((spec) => (spec.spec.environment = 'lab')), ['host']);
  t.same(effectiveLevel(imagesPinned, production.box), { level: 'mandatory', downgraded: false });
  t.same(effectiveLevel(imagesPinned, lab.box), { level: 'advisory', downgraded: false });
});
