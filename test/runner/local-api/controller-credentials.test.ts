/** The controller's credentials as the agent mints them: against the real hub and the token file. */
import { join } from 'node:path';
import t from 'tap';
import { HubClient } from '../../../runner/hub/client.js';
import { mintControllerCredentials } from '../../../runner/local-api/controller-credentials.js';
import { LocalApiTokens } from '../../../runner/local-api/tokens.js';
import { tempDir } from '../../helpers/enrollment.js';
import { makeEnvelope, startTestHub } from '../../helpers/hub.js';

t.test('the agent mints a guest-tier hub key and a local-API token; minting again replaces both', async (t) => {
  const hub = await startTestHub(t);
  const box = await hub.enroll('co-0001');
  await hub.operator.publish(makeEnvelope({ box: 'co-0001', tier: 'guest', serial: 1 }));
  const tokens = await LocalApiTokens.open(join(tempDir(t), 'local-api'));
  const first = await mintControllerCredentials({ hub: box, box: 'co-0001', guest: 'tenant-a', tokens });
  t.match(first, { hubApiKey: /^fhb_/, localApiToken: /^fhl_/ });
  const controller = new HubClient({ url: hub.hub.url, token: first.hubApiKey });
  t.match(await controller.fetchSpec('co-0001', 'guest'), { status: 'changed' });
  await t.rejects(controller.fetchSpec('co-0001', 'host'), { status: 403 });
  t.ok(tokens.matches('tenant-a', first.localApiToken));
  t.notOk(tokens.matches('tenant-b', first.localApiToken), "not another guest's");
  const second = await mintControllerCredentials({ hub: box, box: 'co-0001', guest: 'tenant-a', tokens });
  await t.rejects(controller.fetchSpec('co-0001', 'guest'), { status: 401 }, 'the old hub key stops working');
  t.notOk(tokens.matches('tenant-a', first.localApiToken), 'the old local token too');
  t.ok(tokens.matches('tenant-a', second.localApiToken));
  await t.rejects(mintControllerCredentials({ hub: new HubClient({ url: hub.hub.url, token: 'fhb_wrong' }), box: 'co-0001', guest: 'tenant-b', tokens }), { code: 'EHUB_AUTH' });
  t.notOk(tokens.matches('tenant-b', ''), 'a refused registration issues no local token');
});
