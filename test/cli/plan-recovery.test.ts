import t from 'tap';
import { felhom } from '../helpers/cli.js';

t.test('felhom plan prints the recovery objectives the schedules give, and --json carries them', async (t) => {
  const human = await felhom(['plan', 'examples/home-box.yaml', '--brief']);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /^recovery objectives \(from the backup schedules; RTO excludes replacement hardware delivery\):$/m);
  t.match(human.stdout, /^ {2}disk-loss {2}RPO 24 h {4}RTO 0\.7 h {3}restore from nas-backup$/m);
  t.match(human.stdout, /^ {2}site-loss {2}RPO 7 d {5}RTO 2\.8 h {3}restore from offsite$/m);
  const json = await felhom(['plan', 'examples/company-box.yaml', '--json', '--tier', 'host']);
  t.equal(json.code, 0, json.stderr);
  const plan = JSON.parse(json.stdout);
  t.match(plan.recoveryObjectives.guests, [{ scope: 'disk-loss', rpoHours: 22 }, { scope: 'box-loss' }, { scope: 'site-loss', rpoHours: 24, restoreFrom: 'offsite' }]);
});
