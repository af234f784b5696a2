// engine/plugins.ts: the pins every part of the runner and the stacks read.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ENGINE_PINS, pinnedPlugin, providerVersion, tierPluginPins } from '../../engine/plugins.js';
import { projectRoot } from '../helpers/engine-install.js';

t.test('the pins are engine/plugins.json, and the CLI pin is go.mod\'s version', async (t) => {
  t.same(ENGINE_PINS, JSON.parse(await readFile(join(projectRoot, 'engine', 'plugins.json'), 'utf8')));
  t.match(await readFile(join(projectRoot, 'engine', 'pulumi', 'go.mod'), 'utf8'), `github.com/pulumi/pulumi/pkg/v3 ${ENGINE_PINS.cli.version}`);
});

t.test('each tier names the plugins its program uses, at the pinned versions', async (t) => {
  t.same(tierPluginPins('host'), [{ name: 'command', version: '1.2.1' }, { name: 'proxmoxve', version: '8.3.0' }]);
  t.same(tierPluginPins('guest'), [{ name: 'random', version: '4.21.1' }, { name: 'docker', version: '5.1.0' }]);
  t.same(tierPluginPins('edge'), [{ name: 'random', version: '4.21.1' }, { name: 'cloudflare', version: '6.17.0' }]);
  t.equal(providerVersion('docker'), '5.1.0');
  t.equal(pinnedPlugin('nodejs', 'language').version, '3.259.0');
});

t.test('an unpinned plugin is an error naming the pinned ones', async (t) => {
  t.throws(() => pinnedPlugin('aws'), { message: /pins no resource plugin "aws" \(pinned: command, random, docker, proxmoxve, cloudflare, nodejs\)/ });
  t.throws(() => pinnedPlugin('nodejs'), /pins no resource plugin "nodejs"/, 'the kind matters');
});

t.test('the npm SDKs are pinned to their plugin where npm serves that version', async (t) => {
  const manifest = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const name of ['random', 'command', 'cloudflare']) {
    const plugin = pinnedPlugin(name);
    t.equal(manifest.dependencies[plugin.sdk!], plugin.version, `${plugin.sdk} is exactly ${plugin.version}`);
  }
});
