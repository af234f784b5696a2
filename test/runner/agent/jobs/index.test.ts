// The job registry: one handler per job action the envelope format knows, and nothing else; an
// action no handler knows (or a name an object inherits) is refused.
import t from 'tap';
import { JOB_ACTIONS } from '../../../../runner/envelope/index.js';
import { JOB_HANDLERS, jobHandler } from '../../../../runner/agent/jobs/index.js';
import { UnsupportedJobError } from '../../../../runner/agent/errors.js';

t.test('the registry and the envelope format know the same job kinds', async (t) => {
  t.same([...JOB_HANDLERS.keys()].sort(), [...JOB_ACTIONS].sort());
  for (const action of JOB_ACTIONS) t.equal(jobHandler(action), JOB_HANDLERS.get(action), `${action} has its handler`);
});

for (const action of ['decommission-everything', '', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 5, null, undefined, { action: 'apply' }]) {
  t.test(`an unknown action is refused: ${JSON.stringify(action) ?? 'undefined'}`, async (t) => {
    t.throws(() => jobHandler(action), UnsupportedJobError);
    t.throws(() => jobHandler(action), { code: 'EJOB_UNSUPPORTED', message: `unknown job action ${JSON.stringify(action)}` });
  });
}
