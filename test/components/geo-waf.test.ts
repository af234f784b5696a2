import t from 'tap';
import { argsErrorFrom, mocks, promiseOf } from '../helpers/mocks.js';
import { GeoWaf, geoExpression, geoWafRules, type GeoWafArgs } from '../../components/geo-waf.js';
import { checkRules } from '../../components/validation.js';

const ZONE = '0123456789abcdef0123456789abcdef';
const baseArgs: GeoWafArgs = { zoneId: ZONE, mode: 'allow', countries: ['HU', 'AT'] };

t.beforeEach(() => mocks.reset());

t.test('geoExpression: allow-lists block everyone else, deny-lists block the listed', async (t) => {
  t.equal(geoExpression({ mode: 'allow', countries: ['HU', 'AT'] }), '(not ip.src.country in {"AT" "HU"})');
  t.equal(geoExpression({ mode: 'deny', countries: ['RU'] }), '(ip.src.country in {"RU"})');
});

t.test('geoExpression: exempt hostnames pass, and the output is the same whatever the input order', async (t) => {
  const expression = geoExpression({ mode: 'allow', countries: ['HU'], exemptHostnames: ['share.example.com', 'a.example.com'] });
  t.equal(expression, '(not ip.src.country in {"HU"}) and not (http.host in {"a.example.com" "share.example.com"})');
  t.equal(geoExpression({ mode: 'allow', countries: ['AT', 'HU'] }), geoExpression({ mode: 'allow', countries: ['HU', 'AT'] }));
  t.equal(geoExpression({ mode: 'deny', countries: ['RU'], exemptHostnames: [] }), '(ip.src.country in {"RU"})', 'an empty exemption list adds nothing');
});

t.test('given an allow-list, one zone ruleset in the custom firewall phase blocks the rest', async (t) => {
  const waf = new GeoWaf('geo', { ...baseArgs, exemptHostnames: ['share.example.com'] });
  await mocks.settle();
  t.same(mocks.inventory(), ['cloudflare:index/ruleset:Ruleset::geo-ruleset', 'felhom:edge:GeoWaf::geo']);
  const ruleset = mocks.one('cloudflare:index/ruleset:Ruleset');
  t.match(ruleset.inputs, { zoneId: ZONE, kind: 'zone', phase: 'http_request_firewall_custom' });
  t.same(ruleset.inputs.rules, [
    {
      ref: 'felhom_geo',
      description: 'felhom geo allow: AT HU',
      expression: '(not ip.src.country in {"AT" "HU"}) and not (http.host in {"share.example.com"})',
      action: 'block',
      enabled: true,
    },
  ]);
  t.equal(ruleset.parent, mocks.one('felhom:edge:GeoWaf').urn);
  t.equal(await promiseOf(waf.expression), ruleset.inputs.rules[0].expression);
  t.equal(await promiseOf(waf.rulesetId), 'geo-ruleset-id');
});

t.test('given a managed challenge action, the rule challenges instead of blocking', async (t) => {
  new GeoWaf('geo', { ...baseArgs, mode: 'deny', countries: ['RU'], action: 'managed_challenge' });
  await mocks.settle();
  t.match(mocks.one('cloudflare:index/ruleset:Ruleset').inputs.rules, [{ action: 'managed_challenge', expression: '(ip.src.country in {"RU"})' }]);
});

const broken: [string, Partial<GeoWafArgs>, string, RegExp][] = [
  ['a short zone id', { zoneId: 'abc' }, 'zoneId', /32 lower-case hex digits, got "abc"/],
  ['an unknown mode', { mode: 'block' as 'allow' }, 'mode', /allow or deny, got "block"/],
  ['no countries', { countries: [] }, 'countries', /at least one country code/],
  ['a lower-case country', { countries: ['hu'] }, 'countries', /upper case.*"hu"/],
  ['UK, which is not an ISO code', { countries: ['UK'] }, 'countries', /"UK" \(the United Kingdom is GB\)/],
  ['ZZ, a user-assigned code', { countries: ['ZZ'] }, 'countries', /"ZZ" \(not an assigned ISO 3166-1 alpha-2 code\)/],
  ['a repeated country', { countries: ['HU', 'HU'] }, 'countries', /each country once/],
  ['a bad exempt hostname', { exemptHostnames: ['Share.Example.com'] }, 'exemptHostnames', /lower-case DNS hostnames/],
  ['an unknown action', { action: 'log' as 'block' }, 'action', /block or managed_challenge, got "log"/],
];
for (const [what, patch, field, message] of broken) {
  t.test(`given ${what}, validation names ${field}`, async (t) => {
    const problems = checkRules(geoWafRules, { ...baseArgs, ...patch });
    t.same(problems.map((p) => p.field), [field]);
    t.match(problems[0]?.message, message);
  });
}

t.test('given invalid args, the constructor throws and registers nothing', async (t) => {
  argsErrorFrom(t, () => new GeoWaf('geo', { ...baseArgs, countries: [] }));
  await mocks.settle();
  t.same(mocks.resources, []);
});
