// The agent's local API follows the applied spec: no socket before the first apply, one per guest
// after the cycle that applied it, none after close (a refresh racing the close binds nothing).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { AgentLocalApi } from '../../../runner/local-api/agent-local-api.js';
import { PveGuestOperations } from '../../../runner/local-api/guest-operations.js';
import { AuditLog } from '../../../runner/state/audit.js';
import type { BoxSpec } from '../../../stacks/spec/types.js';
import { companyBox } from '../../helpers/box-spec.js';
import { tempDir } from '../../helpers/enrollment.js';

t.test('sockets follow the guests of the applied spec', async (t) => {
  const state = tempDir(t);
  let applied: BoxSpec | undefined;
  const agent = { box: 'cb-0007', audit: await AuditLog.open(AuditLog.fileIn(state)), appliedSpec: async () => applied, auditHubHead: () => null };
  const api = await AgentLocalApi.start(agent, { dir: join(state, 'local-api'), operations: new PveGuestOperations({ endpoint: 'https://127.0.0.1:1', token: 'x@pve!y=z', node: 'pve', insecure: true }) });
  t.teardown(() => api.close());
  const socket = (guest: string) => join(state, 'local-api', 'sockets', guest, 'api.sock');
  t.same(await api.refresh(), [], 'before the first apply no guest is granted anything');
  applied = companyBox() as unknown as BoxSpec;
  t.same(await api.refresh(), ['office', 'engineering', 'operations']);
  t.ok(['office', 'engineering', 'operations'].every((guest) => existsSync(socket(guest))), 'a socket per guest');
  const late = api.refresh();
  await api.close();
  t.same(await late, [], 'a refresh the close overtook binds nothing');
  t.same(await api.refresh(), [], 'none after close');
  t.notOk(existsSync(socket('office')), 'the sockets are gone');
});
