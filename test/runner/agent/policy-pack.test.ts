// Policies on the box: the agent runs its preview and up with the Felhom policy pack through the
// real engine (the Node language host runs policies/policy-pack), so a spec breaking a mandatory
// rule is refused before any change: journaled, reported with the rule and its message, audited.
// The guest tier's real program runs against a private Docker daemon; its apps are test images
// from the local registry standing in for the catalog's (pinned where the catalog pins). Needs the
// docker plugin and the language-nodejs plugin (`npm run engine:install`) and `npm run build`.
import t from 'tap';
import { join } from 'node:path';
import { compiledPolicyPackDirectory } from '../../../policies/pack.js';
import { guestProgram } from '../../../stacks/guest.js';
import type { ResolvedBox } from '../../../stacks/spec/resolve.js';
import type { AppManifest } from '../../../templates/lib/manifest.js';
import { Journal } from '../../../runner/state/journal.js';
import { verifyAuditLog } from '../../../runner/state/audit.js';
import { providerVersion } from '../../../engine/plugins.js';
import type { ProgramFactory } from '../../../runner/agent/program.js';
import { buildTestImage, freePort, startDockerHarness, webAppImage, type BuiltImage } from '../../helpers/docker.js';
import { agentWorld, BOX, boxSpec } from '../../helpers/agent-fixture.js';

/** Each app as one test web service; its image pinned by digest only where the catalog pins all of the app's. */
function standIns(box: ResolvedBox, web: BuiltImage): ResolvedBox {
  const apps = box.apps.map((app) => {
    const pinned = app.manifest.services.every((service) => service.digest);
    // The stand-in has one service, so the catalog's backup hooks (which name the app's own services) go.
    const { backup: _hooks, ...catalog } = app.manifest;
    const manifest: AppManifest = {
      ...catalog,
      http: { service: 'web', port: 8080 },
      services: [{ name: 'web', image: web.image, tag: web.tag, ...(pinned ? { digest: web.digest } : {}), ports: [8080], resources: { memoryMiB: 64 } }],
      volumes: [],
      secrets: [],
      parameters: [],
    };
    return { ...app, manifest, volumes: [], parameters: {} };
  });
  return { ...box, apps };
}

t.test('a spec breaking a mandatory policy is refused by the engine before any change, journaled, reported and audited', async (t) => {
  const { daemon, registry } = await startDockerHarness(t);
  const web = await buildTestImage(daemon, registry, webAppImage('1.0.0'));
  const httpPort = await freePort();
  const programFor: ProgramFactory = (_tier, box, env) => async () =>
    void guestProgram(standIns(box, web), { ...env, dockerHost: daemon.host, traefik: { image: `${web.image}:${web.tag}`, digest: web.digest, httpPort, dockerSocket: daemon.socketPath } });
  const world = await agentWorld(t);
  const agent = await world.agent({
    tier: 'guest',
    programFor,
    policyPack: await compiledPolicyPackDirectory(),
    requiredPlugins: async () => [{ name: 'docker', version: providerVersion('docker') }],
  });

  // given the home box without its advisory downgrade: nextcloud and paperless-ngx are pinned by tag only
  const envelope = await world.publish({ tier: 'guest', serial: 1, body: boxSpec((spec) => void (spec.spec.policy = {})) as never });
  const result = await agent.cycle();

  // then the engine's policy pack refused it, naming the rule and its message
  t.match(result.items, [{ serial: 1, outcome: 'failed', reason: { code: 'EPOLICY_VIOLATION', message: /mandatory polic(y|ies) .*images-pinned.* failed in the engine/ } }]);
  const reason = result.items[0]!.reason!;
  t.ok(reason.details?.some((line) => /^images-pinned: .*cloud-image-web.*by tag/.test(line)), `the details name each violation (${JSON.stringify(reason.details)})`);
  t.equal(await daemon.docker(['ps', '-aq']), '', 'no container was created');
  t.equal(await daemon.docker(['network', 'ls', '-q', '--filter', 'name=traefik']), '', 'no network was created');

  // and it is journaled, reported and audited with that reason
  const digest = result.items[0]!.digest;
  const journal = await Journal.open(world.stateDir);
  t.match(journal.get(digest), { state: 'failed', reason: { code: 'EPOLICY_VIOLATION' } });
  const reports = await world.hub.operator.listReports({ box: BOX });
  t.match(reports, [{ jobId: digest, outcome: 'failed', reason: { code: 'EPOLICY_VIOLATION' } }]);
  // data-placement flags this test's Traefik too: it binds the private daemon's socket, and the
  // rule lets Traefik bind only the guest's standard /var/run/docker.sock.
  t.ok(reports[0]?.reason?.details?.some((line) => /^images-pinned: /.test(line)), 'the report carries each violation, images-pinned among them');
  const audit = await verifyAuditLog(join(world.stateDir, 'audit.jsonl'));
  t.ok(audit.ok);
  t.match(audit.entries.at(-1), { action: 'spec.apply', outcome: 'failed', reason: { code: 'EPOLICY_VIOLATION', message: /images-pinned/ } });
  t.ok(envelope.length > 0);
});
