/**
 * The one error base (lib/errors.ts): what `kind` and `fault` mean, how the command turns them
 * into exit statuses (cli/errors.ts describeFailure, docs/operator-guide.md), causes, and that
 * every family of the tree's errors is a FelhomError with its behaviour kept.
 */
import t from 'tap';
import { defaultFault, ERROR_CODE_PATTERN, FelhomError, type ErrorFault, type ErrorKind } from '../../lib/errors.js';
import { CliError, describeFailure, exitStatus, failureDocument, usageError } from '../../cli/errors.js';
import { AgentError, AgentSetupError, errorCode, errorKind, HealthCheckError, StoppingError, toReason } from '../../runner/agent/errors.js';
import { SupersededError } from '../../runner/agent/retry.js';
import { PveApiError } from '../../runner/agent/pve-api-client.js';
import { HostOperationError } from '../../runner/agent/proxmox-operations.js';
import { EngineBusyError, EngineError, EnginePolicyError, EngineProgramError, EngineRunError } from '../../runner/engine/errors.js';
import { EngineNotInstalledError, PluginNotInstalledError } from '../../runner/engine/locate.js';
import { HubAuthError, HubError, HubRequestError, HubUnavailableError, HubUrlError } from '../../runner/hub/client.js';
import { HubConfigError } from '../../runner/hub/operator.js';
import { EnvelopeError, ReplayError } from '../../runner/envelope/errors.js';
import { TrustStoreError } from '../../runner/envelope/trust.js';
import { SecretError } from '../../runner/envelope/secrets.js';
import { KeyError } from '../../runner/envelope/keys.js';
import { PassphraseUnavailableError } from '../../runner/envelope/passphrase.js';
import { StateError, StoreCorruptError } from '../../runner/state/store.js';
import { LockHeldError } from '../../runner/state/lock.js';
import { AuditLogError } from '../../runner/state/audit.js';
import { CertificateError } from '../../runner/sim/proxmox/certificate.js';
import { SimApiError } from '../../runner/sim/proxmox/api.js';
import { FormatError } from '../../runner/sim/proxmox/formats.js';
import { SchemaLoadError } from '../../runner/sim/proxmox/schema.js';
import { HubDatabaseError } from '../../hub/postgres.js';
import { EnvelopeRoutingError } from '../../hub/routing.js';
import { HubRefusal } from '../../hub/refusal.js';
import { ComponentArgsError } from '../../components/validation.js';
import { TemplateError } from '../../components/rules/app-stack.js';
import { SpecError } from '../../stacks/spec/load.js';
import { ComposeImportError } from '../../templates/lib/compose-import.js';
import { ManifestError, UnknownAppError } from '../../templates/lib/catalog.js';
import { GoldenTemplateError } from '../../templates/lib/golden.js';
import { InterpolationError } from '../../templates/lib/compose-interpolate.js';
import { PolicyViolationError } from '../../policies/gate.js';
import { DestructiveStepError } from '../../policies/rules/stateful-protected.js';
import { PolicyBoxError } from '../../policies/pack.js';

t.test('kind and fault decide the exit status, and only the command knows the numbers', async (t) => {
  const table: [ErrorKind, ErrorFault | undefined, ErrorFault, number][] = [
    ['stalled', undefined, 'input', 1],
    ['stalled', 'environment', 'environment', 3],
    ['waiting', undefined, 'environment', 3],
    ['waiting', 'input', 'input', 1],
    ['generic', undefined, 'environment', 3],
    ['generic', 'input', 'input', 1],
    ['usage', undefined, 'input', 2],
    ['usage', 'environment', 'environment', 2],
  ];
  for (const [kind, given, fault, exit] of table) {
    const error = new FelhomError('ETEST', kind, `a ${kind} error`, given === undefined ? {} : { fault: given });
    t.equal(error.fault, fault, `${kind} with ${given ?? 'no'} fault is the ${fault}'s`);
    t.equal(defaultFault(kind), given === undefined ? fault : defaultFault(kind));
    t.equal(exitStatus(kind, fault), exit, `${kind}/${fault} exits ${exit}`);
    t.same(describeFailure(error), { code: 'ETEST', message: `a ${kind} error`, exitCode: exit, details: [] });
  }
});

t.test('a FelhomError carries its details and its cause, chained', async (t) => {
  const root = Object.assign(new Error('open /x: ENOENT'), { code: 'ENOENT', syscall: 'open' });
  const middle = new StateError('ESTORE_WRITE', 'stalled', 'could not write', { cause: root });
  const top = new AgentSetupError('the agent cannot start', { cause: middle });
  t.equal(top.cause, middle);
  t.equal(middle.cause, root);
  t.equal((top.cause as FelhomError).code, 'ESTORE_WRITE');
  t.notOk('cause' in new FelhomError('ETEST', 'generic', 'no cause'), 'no cause property when none is given');
  const detailed = new FelhomError('ETEST', 'stalled', 'two problems', { details: ['a: wrong', 'b: missing'] });
  t.same(describeFailure(detailed), { code: 'ETEST', message: 'two problems', exitCode: 1, details: ['a: wrong', 'b: missing'] });
  t.same(failureDocument(describeFailure(detailed)), { error: { code: 'ETEST', message: 'two problems', exitCode: 1, details: ['a: wrong', 'b: missing'] } });
  t.same(toReason(detailed), { code: 'ETEST', message: 'two problems', details: ['a: wrong', 'b: missing'] });
  t.equal(detailed.name, 'FelhomError');
  t.equal(top.name, 'AgentSetupError', 'the name is the class');
});

t.test('errors that are not FelhomErrors: system errors keep their code, the rest is internal', async (t) => {
  const system = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' });
  t.same(describeFailure(system), { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED', exitCode: 3, details: [] });
  const uncoded = Object.assign(new Error('read failed'), { syscall: 'read' });
  t.same(describeFailure(uncoded), { code: 'EIO', message: 'read failed', exitCode: 3, details: [] }, 'a system error without a code is EIO');
  t.same(failureDocument(describeFailure('thrown text')), { error: { code: 'EINTERNAL', message: 'thrown text', exitCode: 3 } }, 'no details, no details field');
  t.equal(errorCode(system), 'ECONNREFUSED');
  t.equal(errorKind(system), 'generic');
  // Duck typing is gone: an object that looks like a Felhom error is not one.
  const lookalike = Object.assign(new Error('looks coded'), { code: 'ESPEC', kind: 'stalled', exitCode: 1, details: ['x'] });
  t.same(describeFailure(lookalike), { code: 'EINTERNAL', message: 'looks coded', exitCode: 3, details: [] });
  t.equal(errorKind(lookalike), 'generic');
  t.equal(errorCode(lookalike), 'EAGENT_INTERNAL');
  t.same(toReason(lookalike), { code: 'EAGENT_INTERNAL', message: 'looks coded' });
  t.equal(errorKind(null), 'generic');
  t.equal(errorCode(undefined), 'EAGENT_INTERNAL');
});

t.test('the agent handles usage errors like generic ones and keeps stalled and waiting', async (t) => {
  t.equal(errorKind(new FelhomError('EUSAGE', 'usage', 'x')), 'generic');
  t.equal(errorKind(new HubConfigError('no hub')), 'generic');
  t.equal(errorKind(new TrustStoreError('bad')), 'stalled');
  t.equal(errorKind(new LockHeldError('/l', { pid: 1 })), 'waiting');
  t.equal(errorKind(new EngineRunError('boom')), 'generic');
});

t.test('CliError is a FelhomError: the input by default, the environment or usage when it says so', async (t) => {
  const cli = new CliError('EEXIST', 'exists');
  t.type(cli, FelhomError);
  t.equal(describeFailure(cli).exitCode, 1);
  t.equal(describeFailure(new CliError('EREAD', 'cannot read', { fault: 'environment' })).exitCode, 3);
  const usage = usageError('missing --key');
  t.match(usage, { code: 'EUSAGE', kind: 'usage' });
  t.equal(describeFailure(usage).exitCode, 2);
});

t.test("every family of the tree's errors is a FelhomError with its code, kind and exit status kept", async (t) => {
  const problem = { path: 'spec', message: 'wrong' };
  // [error, intermediate class (or FelhomError), code, agent kind, exit status]
  const cases: [FelhomError, abstract new (...args: never[]) => FelhomError, string, string, number][] = [
    [new AgentError('ECAPABILITY', 'stalled', 'x'), AgentError, 'ECAPABILITY', 'stalled', 1],
    [new AgentSetupError('no key'), AgentError, 'EAGENT_SETUP', 'stalled', 3],
    [new HealthCheckError('unhealthy'), AgentError, 'EHEALTH', 'generic', 3],
    [new StoppingError(), AgentError, 'ESTOPPING', 'waiting', 3],
    [new SupersededError(1, 2), AgentError, 'ESUPERSEDED', 'stalled', 1],
    [new PveApiError(0, 'down'), AgentError, 'EPVE_API', 'waiting', 3],
    [new HostOperationError('failed'), AgentError, 'EHOST_OPERATION', 'generic', 3],
    [new EngineBusyError('busy'), EngineError, 'EENGINE_BUSY', 'waiting', 3],
    [new EngineProgramError('threw'), EngineError, 'EENGINE_PROGRAM', 'stalled', 3],
    [new EnginePolicyError([{ rule: 'exposure', message: 'm' }]), EngineError, 'EPOLICY_VIOLATION', 'stalled', 1],
    [new EngineRunError('failed', { code: 'EENGINE_PREVIEW' }), EngineError, 'EENGINE_PREVIEW', 'generic', 3],
    [new EngineNotInstalledError('/e', 'no bin'), FelhomError, 'EENGINE_MISSING', 'generic', 3],
    [new PluginNotInstalledError('/p', [{ name: 'docker', version: '1.0.0' }] as never), FelhomError, 'EPLUGIN_MISSING', 'generic', 3],
    [new HubUnavailableError('down'), HubError, 'EHUB_UNAVAILABLE', 'waiting', 3],
    [new HubAuthError('no', { status: 401, hubCode: 'EAUTH_INVALID' }), HubError, 'EHUB_AUTH', 'stalled', 1],
    [new HubRequestError('EBAD_REQUEST', 'no', { status: 400 }), HubError, 'EBAD_REQUEST', 'stalled', 1],
    [new HubUrlError('not a URL'), HubError, 'EHUB_URL', 'stalled', 3],
    [new HubConfigError('no hub'), FelhomError, 'EUSAGE', 'generic', 2],
    [new ReplayError('replayed'), EnvelopeError, 'EREPLAY', 'stalled', 1],
    [new TrustStoreError('bad store'), FelhomError, 'ETRUST', 'stalled', 1],
    [new TrustStoreError('cannot read', { unreadable: true }), FelhomError, 'ETRUST', 'stalled', 3],
    [new SecretError('no secret'), FelhomError, 'ESECRET', 'stalled', 1],
    [new KeyError('bad key'), FelhomError, 'EKEY', 'generic', 1],
    [new PassphraseUnavailableError('no passphrase'), FelhomError, 'EUSAGE', 'generic', 2],
    [new StoreCorruptError('/s', 'not JSON'), StateError, 'ESTORE_CORRUPT', 'stalled', 3],
    [new LockHeldError('/l', {}), StateError, 'ELOCK_HELD', 'waiting', 3],
    [new AuditLogError('/a', []), StateError, 'EAUDIT_BROKEN', 'stalled', 3],
    [new CertificateError('no cert'), FelhomError, 'ESIM_CERTIFICATE', 'generic', 3],
    [new SchemaLoadError('no schema'), FelhomError, 'ESIM_SCHEMA', 'generic', 3],
    [new SimApiError(400, 'missing node'), FelhomError, 'ESIM_API', 'generic', 1],
    [new FormatError('not an IP'), FelhomError, 'ESIM_FORMAT', 'generic', 1],
    [new HubDatabaseError('EHUB_DATABASE', 'down'), FelhomError, 'EHUB_DATABASE', 'stalled', 3],
    [new EnvelopeRoutingError('box', 'missing'), FelhomError, 'EENVELOPE_MALFORMED', 'generic', 1],
    [new HubRefusal(409, 'ESERIAL_NOT_INCREASING', 'old'), FelhomError, 'ESERIAL_NOT_INCREASING', 'generic', 1],
    [new ComponentArgsError('felhom:t:T', 'n', [{ field: 'f', message: 'm' }]), FelhomError, 'ECOMPONENTARGS', 'generic', 1],
    [new TemplateError('unknown reference'), FelhomError, 'ETEMPLATE', 'generic', 1],
    [new SpecError('s.yaml', [problem]), FelhomError, 'ESPEC', 'generic', 1],
    [new SpecError('s.yaml', [{ path: '', message: 'cannot read: ENOENT' }], { unreadable: true }), FelhomError, 'ESPEC', 'generic', 3],
    [new ComposeImportError('c.yaml', [problem], []), FelhomError, 'ECOMPOSE', 'generic', 1],
    [new ComposeImportError('c.yaml', [], [problem]), FelhomError, 'EREFUSED', 'generic', 1],
    [new ManifestError('m.yaml', [problem]), FelhomError, 'EMANIFEST', 'generic', 1],
    [new UnknownAppError('nope', []), FelhomError, 'EUNKNOWNAPP', 'generic', 1],
    [new GoldenTemplateError('g.yaml', [problem]), FelhomError, 'EGOLDEN', 'generic', 1],
    [new InterpolationError('unclosed'), FelhomError, 'EINTERPOLATION', 'generic', 1],
    [new PolicyViolationError('s.yaml', [{ rule: 'exposure', message: 'm' }]), FelhomError, 'EPOLICY_VIOLATION', 'stalled', 1],
    [new DestructiveStepError([]), FelhomError, 'EPOLICY_DESTRUCTIVE', 'generic', 1],
    [new PolicyBoxError('no box'), FelhomError, 'EPOLICY_BOX', 'generic', 1],
  ];
  for (const [error, family, code, kind, exit] of cases) {
    const label = error.constructor.name;
    t.type(error, FelhomError, `${label} is a FelhomError`);
    t.type(error, Error, `${label} is an Error`);
    t.type(error, family, `${label} is a ${family.name}`);
    t.equal(error.name, label, `${label}'s name`);
    t.match(error.code, ERROR_CODE_PATTERN, `${label}'s code has the form`);
    t.equal(error.code, code, `${label}'s code`);
    t.equal(errorKind(error), kind, `${label} is ${kind} for the agent`);
    t.equal(errorCode(error), code, `${label}'s reason code`);
    t.equal(describeFailure(error).exitCode, exit, `${label} exits ${exit}`);
    t.notOk('exitCode' in error, `${label} knows no exit status`);
  }
  t.same(new SpecError('s.yaml', [problem]).details, ['spec: wrong'], 'a spec error details its problems');
});
