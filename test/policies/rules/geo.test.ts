import t from 'tap';
import { geoExpression } from '../../../components/geo-waf.js';
import { geoMatchesSpec, parseGeoExpression } from '../../../policies/rules/geo.js';
import { homeBox } from '../../helpers/box-spec.js';
import { check, edgeResources, messages, plan } from '../../helpers/policies.js';

const RULESET = 'cloudflare:index/ruleset:Ruleset "hb-0001-geo-ruleset"';

t.test('the expression GeoWaf writes parses back to the spec it came from', async (t) => {
  t.same(parseGeoExpression(geoExpression({ mode: 'allow', countries: ['HU', 'DE', 'AT'] })), { mode: 'allow', countries: ['AT', 'DE', 'HU'], exempt: [] });
  t.same(parseGeoExpression(geoExpression({ mode: 'deny', countries: ['RU'], exemptHostnames: ['share.example.hu'] })), { mode: 'deny', countries: ['RU'], exempt: ['share.example.hu'] });
  t.equal(parseGeoExpression('http.host eq "x"'), undefined);
});

t.test('a WAF rule that matches spec.edge.geo passes', async (t) => {
  const result = await plan(homeBox(), ['host']);
  t.same(check(geoMatchesSpec, result, 'edge', edgeResources(result.box, geoExpression({ mode: 'allow', countries: ['HU', 'AT', 'DE'] }))), []);
});

t.test('a declared geo restriction without a WAF rule is refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  t.same(messages(check(geoMatchesSpec, result, 'edge', edgeResources(result.box))), [
    'spec.edge.geo declares allow "HU", "AT", "DE", but the edge stack has no WAF rule enforcing it: create a GeoWaf in the edge tier',
  ]);
});

t.test('a WAF rule with other countries or the other mode is refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  t.same(messages(check(geoMatchesSpec, result, 'edge', edgeResources(result.box, geoExpression({ mode: 'allow', countries: ['HU', 'AT'] })))), [
    `${RULESET} enforces allow AT HU, but spec.edge.geo says allow AT DE HU: re-run the edge tier so the WAF rule follows the spec`,
  ]);
  t.same(messages(check(geoMatchesSpec, result, 'edge', edgeResources(result.box, geoExpression({ mode: 'deny', countries: ['HU', 'AT', 'DE'] })))), [
    `${RULESET} enforces deny AT DE HU, but spec.edge.geo says allow AT DE HU: re-run the edge tier so the WAF rule follows the spec`,
  ]);
});

t.test('a geo WAF rule the spec does not declare is refused', async (t) => {
  const result = await plan(homeBox((spec) => delete (spec.spec.edge as { geo?: unknown }).geo), ['host']);
  const violations = check(geoMatchesSpec, result, 'edge', edgeResources(result.box, geoExpression({ mode: 'allow', countries: ['HU'] })));
  t.same(messages(violations), [`${RULESET} restricts by country, but the spec declares no geo restriction: remove it, or declare it in spec.edge.geo`]);
  t.match(violations[0]!.urn, /hb-0001-geo-ruleset$/);
});
