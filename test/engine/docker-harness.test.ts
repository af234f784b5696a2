// The shared Docker harness (test/helpers/docker.ts) gives a private daemon and registry, and
// images built from busybox that run, answer and turn healthy when pulled by digest.
import t from 'tap';
import { buildTestImage, containerAddress, databaseImage, startDockerHarness, waitHealthy, webAppImage } from '../helpers/docker.js';

t.test('a test image pulled by digest from the local registry runs and turns healthy', async (t) => {
  const { daemon, registry } = await startDockerHarness(t);
  const web = await buildTestImage(daemon, registry, webAppImage('1.0.0'));
  t.match(web.reference, /^127\.0\.0\.1:\d+\/felhom-test\/web@sha256:[0-9a-f]{64}$/);
  t.equal(await daemon.docker(['images', '-q', `${web.image}:${web.tag}`]), '', 'only the registry holds the image before the pull');

  await daemon.docker(['network', 'create', 'harness']);
  await daemon.docker(['run', '-d', '--name', 'web', '--network', 'harness', '--health-cmd', 'wget -q -O- http://127.0.0.1:8080/health', '--health-interval', '1s', web.reference]);
  await waitHealthy(daemon, 'web');
  const address = await containerAddress(daemon, 'web', 'harness');
  t.equal(await (await fetch(`http://${address}:8080/`)).text(), 'felhom test app 1.0.0\n');

  const db = await buildTestImage(daemon, registry, databaseImage('1'));
  await daemon.docker(['run', '-d', '--name', 'db', '--network', 'harness', '-v', 'dbdata:/data', db.reference]);
  const dbAddress = await containerAddress(daemon, 'db', 'harness');
  let log = '';
  for (let i = 0; i < 50 && !log.includes('started 1'); i += 1) {
    log = await fetch(`http://${dbAddress}:5432/db.log`).then((r) => (r.ok ? r.text() : ''), () => '');
    if (!log) await new Promise((r) => setTimeout(r, 200));
  }
  t.match(log, /^started 1 \d+\n$/, 'the database wrote to its volume');
});
