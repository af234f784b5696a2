// Progress of long work: the engine's event stream as one line per step on stderr, colour only on
// a terminal and never with NO_COLOR; the agent's text log for a person at a terminal.
import t from 'tap';
import { join } from 'node:path';
import { engineProgress, styleFor, textLogger } from '../../cli/progress.js';
import { SecretRegistry } from '../../runner/agent/logger.js';
import { EngineRunner } from '../../runner/engine/run.js';
import { LocalFile } from '../helpers/agent-program.js';
import { main } from '../../cli/main.js';
import { agentWorld, boxSpec, BOX } from '../helpers/agent-fixture.js';

const ESC = '\u001b[';

t.test('colour only on a terminal, and never with NO_COLOR', async (t) => {
  t.same(styleFor(true, {}), { color: true });
  t.same(styleFor(true, { NO_COLOR: '1' }), { color: false });
  t.same(styleFor(true, { NO_COLOR: '' }), { color: true }, 'an empty NO_COLOR does not count (no-color.org)');
  t.same(styleFor(false, {}), { color: false });
});

t.test('an up and a preview on the real engine show each resource step', async (t) => {
  const stateDir = t.testdir();
  const dir = t.testdir();
  const target = { projectName: 'felhom', stackName: 'progress', stateDir, passphrase: 'p-0123456789' };
  const program = (content: string) => async () => {
    new LocalFile('marker', { path: join(dir, 'marker.txt'), content });
  };
  const engine = new EngineRunner();
  const plain: string[] = [];
  await engine.run('up', program('one'), target, { onEvent: engineProgress((line) => plain.push(line), styleFor(false, {}), { preview: false }) });
  t.same(plain.filter((line) => line.includes('marker')), ['  +  creating    marker  (pulumi-nodejs:dynamic:Resource)', '  +  created     marker  (pulumi-nodejs:dynamic:Resource)']);

  const coloured: string[] = [];
  await engine.run('preview', program('two'), target, { onEvent: engineProgress((line) => coloured.push(line), styleFor(true, {}), { preview: true }) });
  const steps = coloured.filter((line) => line.includes('marker'));
  t.equal(steps.length, 1, 'a preview lists what it would do, once per resource');
  t.equal(steps[0], `  ${ESC}33m~  update     ${ESC}0m marker  ${ESC}2m(pulumi-nodejs:dynamic:Resource)${ESC}0m`);
});

t.test('failures and diagnostics are lines of their own', async (t) => {
  const lines: string[] = [];
  const progress = engineProgress((line) => lines.push(line), { color: false }, { preview: false });
  const metadata = { op: 'create', urn: 'urn:pulumi:s::p::proxmoxve:index/container:Container::customer-lxc', type: 'proxmoxve:index/container:Container' };
  progress({ sequence: 1, timestamp: 0, resOpFailedEvent: { metadata, status: 1, steps: 1 } } as never);
  progress({ sequence: 2, timestamp: 0, diagnosticEvent: { severity: 'error', urn: metadata.urn, message: 'storage is full\nmore', color: 'never' } } as never);
  progress({ sequence: 3, timestamp: 0, diagnosticEvent: { severity: 'info', message: 'chatter', color: 'never' } } as never);
  progress({ sequence: 4, timestamp: 0, resourcePreEvent: { metadata: { ...metadata, op: 'same' } } } as never);
  t.same(lines, ['  x  create failed customer-lxc  (proxmoxve:index/container:Container)', '  error: customer-lxc: storage is full']);
});

t.test('the text log: engine steps as progress, the rest as time level message fields, redacted', async (t) => {
  const lines: string[] = [];
  const secrets = new SecretRegistry();
  secrets.add('super-secret-value');
  const log = textLogger({ write: (line) => lines.push(line), style: { color: false }, level: 'info', secrets, clock: () => new Date('2026-12-02T10:11:12Z') });
  log.info('resource changed', { operation: 'up', op: 'update', type: 'docker:index/container:Container', urn: 'urn:pulumi:s::p::docker:index/container:Container::web' });
  log.warn('envelope failed', { serial: 3, message: 'token super-secret-value refused' });
  log.debug('not shown at info');
  t.same(lines, ['  ~  updated     web  (docker:index/container:Container)', '10:11:12 warn  envelope failed serial=3 message="token [secret] refused"']);
});

t.test('agent once on a terminal writes the text log; --log-format json keeps JSON lines', async (t) => {
  const world = await agentWorld(t);
  await world.publish({ serial: 1, body: boxSpec() as never });
  const args = ['agent', 'once', '--hub', world.hub.hub.url, '--box', BOX, '--tier', 'host', '--state', world.stateDir, '--trust', world.trustPath];
  let stderr = '';
  const code = await main(args, {
    streams: { stdout: { write: () => true, isTTY: true }, stderr: { write: (chunk: string) => (stderr += chunk), isTTY: true } },
    env: { ...process.env, NO_COLOR: '' },
    stopSignal: new AbortController().signal,
  });
  t.equal(code, 1, 'the envelope failed (no plugins here)');
  t.match(stderr, /^\S*\d\d:\d\d:\d\d\S* \S*error\S* envelope failed /m, 'text lines');
  t.match(stderr, ESC, 'coloured on a terminal');
  t.notMatch(stderr, /^\{"time"/m, 'no JSON');
  await world.publish({ serial: 2, body: boxSpec() as never });
  let json = '';
  await main([...args, '--log-format', 'json'], {
    streams: { stdout: { write: () => true, isTTY: true }, stderr: { write: (chunk: string) => (json += chunk), isTTY: true } },
    env: process.env,
    stopSignal: new AbortController().signal,
  });
  const lines = json.trim().split('\n');
  t.ok(lines.length > 0 && lines.every((line) => line.startsWith('{')), 'JSON lines');
});
