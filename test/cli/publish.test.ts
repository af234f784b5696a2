import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { felhom } from '../helpers/cli.js';
import { signed } from '../helpers/envelopes.js';
import { makeEnvelope, OPERATOR_TOKEN, startTestHub } from '../helpers/hub.js';
import { serializeTrustStore } from '../../runner/envelope/index.js';
import { TEST_PASSPHRASE, testKey, trustOf, writeKeyFiles } from '../helpers/keys.js';

const env = { FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN };

t.test('publish sends a really signed envelope byte for byte and the box receives it unchanged', async (t) => {
  const { hub, enroll } = await startTestHub(t);
  const box = await enroll('box-1');
  const envelope = await signed([await testKey('alice')], { type: 'spec', serial: 3, body: { note: 'hello' } });
  const file = join(t.testdir(), 'spec.envelope.json');
  await writeFile(file, envelope);

  const result = await felhom(['publish', file, '--hub', hub.url], { env });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /^published spec serial 3 for box-1\/host \(sha256 [0-9a-f]{64}\)/);
  const served = await box.fetchSpec('box-1', 'host');
  t.equal(served.status === 'changed' && served.envelope, envelope);
});

t.test('publish --json prints the hub answer', async (t) => {
  const { hub, enroll } = await startTestHub(t);
  await enroll('box-1');
  const file = join(t.testdir(), 'job.json');
  await writeFile(file, makeEnvelope({ type: 'job', serial: 2 }));
  const result = await felhom(['publish', file, '--hub', hub.url, '--json'], { env });
  t.equal(result.code, 0);
  t.match(JSON.parse(result.stdout), { box: 'box-1', tier: 'host', type: 'job', serial: 2, digest: /^[0-9a-f]{64}$/, etag: /^[0-9a-f]{64}$/ });
});

t.test('publish of a serial not above the last is refused with exit 1', async (t) => {
  const { hub, enroll, operator } = await startTestHub(t);
  await enroll('box-1');
  await operator.publish(makeEnvelope({ serial: 4 }));
  const file = join(t.testdir(), 'old.json');
  await writeFile(file, makeEnvelope({ serial: 4, body: { other: 1 } }));
  const result = await felhom(['publish', file, '--hub', hub.url], { env });
  t.equal(result.code, 1);
  t.match(result.stderr, 'felhom: ESERIAL_NOT_INCREASING: hub answered 409');
});

t.test('publish of a file that is not an envelope names the problem', async (t) => {
  const { hub } = await startTestHub(t);
  const file = join(t.testdir(), 'bad.json');
  await writeFile(file, '{"payload": 5, "signatures": []}');
  const result = await felhom(['publish', file, '--hub', hub.url], { env });
  t.equal(result.code, 1);
  t.match(result.stderr, 'EENVELOPE_MALFORMED');
  t.match(result.stderr, 'envelope.payload');
});

t.test('publish of a missing file exits 3 naming it', async (t) => {
  const { hub } = await startTestHub(t);
  const file = join(t.testdir(), 'nope.json');
  const result = await felhom(['publish', file, '--hub', hub.url], { env });
  t.equal(result.code, 3);
  t.match(result.stderr, `EREAD: cannot read envelope ${file}`);
});

t.test('one envelope has one sha256: sign, verify, publish and the box job list all name the payload digest', async (t) => {
  const { hub, enroll } = await startTestHub(t);
  const box = await enroll('box-1');
  const dir = await writeKeyFiles(['alice']);
  await writeFile(join(dir, 'job.yaml'), 'action: refresh\n');
  await writeFile(join(dir, 'trust.json'), serializeTrustStore(await trustOf(['alice'])));
  const keyEnv = { ...env, FELHOM_KEY_PASSPHRASE: TEST_PASSPHRASE };
  const signedOut = await felhom(['sign', 'job.yaml', '--type', 'job', '--key', 'alice.key.asc', '--box', 'box-1', '--tier', 'host', '--serial', '4', '--out', 'job.json'], { cwd: dir, env: keyEnv });
  t.equal(signedOut.code, 0, signedOut.stderr);
  const fromSign = /sha256 ([0-9a-f]{64})/.exec(signedOut.stdout)![1]!;
  const verified = await felhom(['verify', 'job.json', '--trust', 'trust.json', '--box', 'box-1', '--tier', 'host'], { cwd: dir });
  t.match(verified.stdout, `sha256 ${fromSign}`, 'verify prints the same');
  const published = await felhom(['publish', join(dir, 'job.json'), '--hub', hub.url], { env });
  t.match(published.stdout, `(sha256 ${fromSign})`, 'publish prints the same, not the digest of the file bytes');
  const jobs = await box.fetchJobs('box-1', 'host');
  t.equal(jobs.status === 'changed' && jobs.jobs[0]!.id, fromSign, 'the box sees the job by the same sha256');
});
