/**
 * The runner's overhead over a bare `pulumi preview` of the same program: the host tier of the
 * example home box previewed (1) through the runner (`EngineRunner`, the Automation API with an
 * inline program, what `felhom preview` and the agent run) and (2) by the real CLI through
 * `Pulumi.yaml` (`FELHOM_SPEC=… pulumi preview --stack hb-0001.host`, the Node language host).
 * Target: the runner under 10% over the bare preview. Needs `npm run build` and the tier's
 * plugins and the Node language host in `.engine/` (docs/engine.md); says so when they are not.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { pinnedPlugin, tierPluginPins } from '../engine/plugins.js';
import { findProjectRoot, locateEngine, requirePlugins } from '../runner/engine/locate.js';
import { EngineRunner } from '../runner/engine/run.js';
import { mainProgram } from '../stacks/operator-program.js';
import { median, timed } from './engine.js';

const execFileAsync = promisify(execFile);
const ROUNDS = 3;
const STACK = 'hb-0001.host';
const TOKEN = 'root@pam!felhom=11111111-2222-3333-4444-555555555555';

export async function run(): Promise<void> {
  const projectRoot = findProjectRoot();
  const engine = await locateEngine({ projectRoot });
  const language = pinnedPlugin('nodejs', 'language');
  requirePlugins(engine, tierPluginPins('host'));
  const spec = join(projectRoot, 'examples', 'home-box.yaml');
  const state = await mkdtemp(join(tmpdir(), 'felhom-bench-overhead-'));
  const passphrase = randomBytes(18).toString('base64url');
  const env = {
    ...process.env,
    ...engine.env,
    PATH: [join(engine.root, 'bin'), dirname(process.execPath), engine.env.PATH].join(delimiter),
    PULUMI_BACKEND_URL: `file://${join(state, 'cli')}`,
    PULUMI_CONFIG_PASSPHRASE: passphrase,
    FELHOM_SPEC: spec,
    FELHOM_PROXMOX_API_TOKEN: TOKEN,
  };
  const pulumi = (args: string[]) => execFileAsync(engine.pulumiPath, args, { cwd: projectRoot, env, maxBuffer: 64 * 1024 * 1024 });
  try {
    await mkdir(join(state, 'cli'), { recursive: true });
    await pulumi(['stack', 'init', STACK, '--non-interactive']);
    const runner = new EngineRunner({ engine });
    const target = { projectName: 'felhom', stackName: STACK, stateDir: join(state, 'runner'), passphrase, requiredPlugins: tierPluginPins('host') };
    const program = () => mainProgram(STACK, { FELHOM_SPEC: spec, FELHOM_PROXMOX_API_TOKEN: TOKEN });
    const bare: number[] = [];
    const viaRunner: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      bare.push(await timed(() => pulumi(['preview', '--stack', STACK, '--non-interactive'])));
      viaRunner.push(await timed(() => runner.run('preview', program, target)));
    }
    const overhead = (median(viaRunner) / median(bare) - 1) * 100;
    console.log(`host tier of the home box, ${ROUNDS} rounds (language host nodejs ${language.version})`);
    console.log(`  bare pulumi preview (Pulumi.yaml): median ${median(bare).toFixed(0)} ms (${bare.map((ms) => ms.toFixed(0)).join(', ')})`);
    console.log(`  runner preview (inline):           median ${median(viaRunner).toFixed(0)} ms (${viaRunner.map((ms) => ms.toFixed(0)).join(', ')})`);
    console.log(`  runner overhead: ${overhead.toFixed(1)}% (target < 10%)`);
  } finally {
    await rm(join(projectRoot, `Pulumi.${STACK}.yaml`), { force: true });
    await rm(state, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await run();
}
