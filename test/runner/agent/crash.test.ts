// kill -9 of the agent (and its engine: the whole process group, as systemd does) at each step,
// then a restart: the agent converges, and no journal or audit entry is lost or doubled.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyAuditLog } from '../../../runner/state/audit.js';
import { Journal } from '../../../runner/state/journal.js';
import { agentWorld, boxSpec, BOX, type AgentWorld } from '../../helpers/agent-fixture.js';

const child = fileURLToPath(new URL('../../helpers/agent-child.ts', import.meta.url));

/** Runs the child agent; with `pauseAt` kills its process group once it announces the step. */
function runChild(world: AgentWorld, pauseAt?: string): Promise<string> {
  const config = JSON.stringify({ stateDir: world.stateDir, trustPath: world.trustPath, hubUrl: world.hub.hub.url, outputDir: world.outputDir, ...(pauseAt ? { pauseAt } : {}) });
  const proc = spawn(process.execPath, [...process.execArgv, child, config], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (pauseAt && out.includes(`at ${pauseAt}\n`)) process.kill(-proc.pid!, 'SIGKILL');
    });
    proc.on('error', reject);
    proc.on('exit', () => resolve(out));
  });
}

for (const step of ['fetch', 'journal', 'verify', 'apply', 'engine', 'audit', 'report']) {
  t.test(`killed at the ${step} step, a restarted agent converges without losing an entry`, async (t) => {
    const world = await agentWorld(t);
    await world.publish({ serial: 1, body: boxSpec() as never });

    const killed = await runChild(world, step);
    t.match(killed, `at ${step}`, `the agent reached ${step} and was killed there`);

    // when the agent restarts (and, if the engine was still being cleaned up, once more)
    let result: { status: string; items: { outcome: string }[] } | undefined;
    for (let attempt = 0; attempt < 3 && result?.status !== 'done' && result?.status !== 'idle'; attempt++) {
      const out = await runChild(world);
      result = JSON.parse(out.trim().split('\n').at(-1)!) as typeof result;
    }

    // then the spec is applied, the journal entry final, and each audit entry there exactly once
    const journal = await Journal.open(world.stateDir);
    const jobs = journal.recent();
    t.equal(jobs.length, 1, 'one journal entry');
    t.equal(jobs[0]?.state, 'succeeded', 'the job is final: succeeded');
    t.equal(journal.unfinished().length, 0, 'nothing left unfinished');
    const audit = await verifyAuditLog(join(world.stateDir, 'audit.jsonl'));
    t.ok(audit.ok, 'audit verify passes');
    t.same(audit.entries.map((entry) => entry.outcome), ['accepted', 'succeeded'], 'accepted and succeeded, each once');
    const reports = await world.hub.operator.listReports({ box: BOX });
    t.same(reports.map((report) => report.outcome), ['succeeded'], 'exactly one report reached the hub');
    t.equal((await world.hub.operator.listAudit(BOX)).length, 2, 'the hub holds both audit entries');
    t.ok((await readdir(world.outputDir)).includes('guest-customer.json'), 'the engine applied the spec');
  });
}
