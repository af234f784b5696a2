import t from 'tap';
import { renderTemplate, templateParts } from '../../templates/lib/environment-template.js';

t.test('a value splits into literals and references; $$ is one literal $', async (t) => {
  t.same(templateParts('postgres://${secret.db}@${service.db}:5432 $${HOME} ${app.hostname}'), {
    parts: [
      { literal: 'postgres://' },
      { ref: { kind: 'secret', name: 'db' } },
      { literal: '@' },
      { ref: { kind: 'service', name: 'db' } },
      { literal: ':5432 ${HOME} ' },
      { ref: { kind: 'app', name: 'hostname' } },
    ],
  });
  t.same(templateParts(''), { parts: [] });
});

t.test('what the grammar cannot read is a problem, not literal text', async (t) => {
  t.same(templateParts('${param.x'), { problem: 'malformed reference in "${param.x": expected ${<kind>.<name>}, or $${ for a literal ${' });
  t.same(templateParts('${HOME}'), { problem: 'malformed reference in "${HOME}": expected ${<kind>.<name>}, or $${ for a literal ${' });
  t.match(templateParts('a ${env.HOME} b'), { problem: /^unknown reference \$\{env\.HOME\}: expected/ });
  t.match(templateParts('${app.name}'), { problem: /^unknown reference \$\{app\.name\}/ });
  t.match(templateParts('${param.ok} then ${oops'), { problem: /^malformed reference/ }, 'after a good reference too');
});

t.test('rendering resolves each reference with the lookup', async (t) => {
  const template = templateParts('${param.a}-${param.b}');
  if (!('parts' in template)) throw new Error('expected parts');
  t.equal(renderTemplate(template.parts, (ref) => ref.name.toUpperCase()), 'A-B');
});
