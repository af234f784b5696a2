import t from 'tap';
import { runDemo } from '../../../runner/sim/demo.js';

t.test('the demo runs the whole loop on one machine: simulator, hub, operator key, enrolment, sign, publish, one agent cycle, the reports', async (t) => {
  let output = '';
  await runDemo((text) => void (output += text));
  for (const step of ['sim proxmox', 'hub serve', 'keys generate', 'trust init', 'hub enroll', 'sign', 'publish', 'agent once', 'hub reports']) {
    t.match(output, `\n$ felhom ${step}`, `it ran felhom ${step}`);
  }
  t.match(output, /# the simulated Proxmox host now holds\n {2}storages: local \(dir\), local-lvm \(lvmthin\)/);
  // The hub's report of the agent's apply: succeeded with the provider plugins, else why not.
  t.match(output, /\d{4}-\d{2}-\d{2}T[\d:.]+Z {2}hb-0001\/host {2}(succeeded|failed) /);
  t.notMatch(output, /PVEAPIToken|root@pam!felhom=[0-9a-f-]{36}/, 'the Proxmox token is never printed');
  t.match(output, /Done\. Everything is in \/.*felhom-demo-/);
});
