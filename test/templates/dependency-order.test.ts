import t from 'tap';
import { dependencyOrder, formatCycle } from '../../templates/lib/dependency-order.js';

t.test('services come after the ones they depend on, in manifest order otherwise', async (t) => {
  const { ordered, cycles } = dependencyOrder([
    { name: 'web', dependsOn: ['db', 'cache'] },
    { name: 'cron', dependsOn: ['web'] },
    { name: 'db' },
    { name: 'cache' },
  ]);
  t.same(ordered.map((service) => service.name), ['db', 'cache', 'web', 'cron']);
  t.same(cycles, []);
});

t.test('a dependency naming no service is passed over: reporting it is the validator\'s rule', async (t) => {
  t.same(dependencyOrder([{ name: 'web', dependsOn: ['nothing'] }]).ordered.map((service) => service.name), ['web']);
});

t.test('every cycle is named from the service it starts at, and each service is still ordered once', async (t) => {
  const { ordered, cycles } = dependencyOrder([
    { name: 'entry', dependsOn: ['a'] },
    { name: 'a', dependsOn: ['b'] },
    { name: 'b', dependsOn: ['a'] },
    { name: 'self', dependsOn: ['self'] },
  ]);
  t.same(cycles, [['a', 'b', 'a'], ['self', 'self']]);
  t.same(ordered.map((service) => service.name).sort(), ['a', 'b', 'entry', 'self']);
  t.equal(formatCycle(cycles[0]!), 'a → b → a');
});
