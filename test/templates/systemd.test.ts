import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const unitFile = new URL('../../templates/systemd/felhom-agent.service', import.meta.url);
const unit = readFileSync(unitFile, 'utf8');
const directives = new Map<string, string>();
for (const line of unit.replace(/ *\\\n\s*/g, ' ').split('\n')) {
  const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
  if (match) directives.set(match[1]!, match[2]!);
}

t.test('the agent unit runs `felhom agent run` for the box and tier from its environment file', async (t) => {
  t.match(directives.get('ExecStart'), /bin\/felhom\.js agent run --hub \$\{FELHOM_HUB_URL\} --box \$\{FELHOM_BOX\} --tier \$\{FELHOM_TIER\} --state \/var\/lib\/felhom-agent --trust /);
  t.equal(directives.get('EnvironmentFile'), '/etc/felhom/agent.env');
  t.equal(directives.get('Restart'), 'on-failure');
});

t.test('the agent unit is hardened and gives a running engine operation time to finish on stop', async (t) => {
  for (const [key, value] of Object.entries({
    NoNewPrivileges: 'yes',
    ProtectSystem: 'strict',
    ProtectHome: 'yes',
    PrivateTmp: 'yes',
    UMask: '0077',
    StateDirectoryMode: '0700',
    KillSignal: 'SIGTERM',
    RestrictSUIDSGID: 'yes',
    SystemCallFilter: '@system-service',
  })) {
    t.equal(directives.get(key), value, key);
  }
  t.match(directives.get('TimeoutStopSec'), /^\d+min$/);
});

t.test('systemd accepts the unit', async (t) => {
  // Point ExecStart at binaries that exist here; everything else is verified as shipped.
  const dir = mkdtempSync(join(tmpdir(), 'felhom-unit-'));
  const local = unit.replace('/opt/felhom/node_modules/.bin/node', process.execPath);
  writeFileSync(join(dir, 'felhom-agent.service'), local);
  let output = '';
  try {
    output = execFileSync('systemd-analyze', ['verify', join(dir, 'felhom-agent.service')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failure = error as { code?: string; stderr?: string; status?: number };
    if (failure.code === 'ENOENT') return t.fail('systemd-analyze is required for this test (Debian: systemd)');
    output = failure.stderr ?? '';
    t.equal(failure.status, 0, output);
  }
  t.notMatch(output, /Unknown key|Invalid|Failed to parse/i);
});
