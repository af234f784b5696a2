/**
 * Why an engine operation failed, as typed errors the runner catches with `instanceof`
 * (STYLE: "Automation API failures become typed errors"). The Automation API's own classes
 * (ConcurrentUpdateError, StackNotFoundError, CommandError) are mapped here, in one place, by
 * class; nothing above this module looks at engine message text.
 *
 * `kind` says how to handle it: `stalled` needs a person (a program that throws, a missing
 * plugin), `waiting` will pass on retry (another update holds the stack), `generic` is
 * neither known to pass nor known to need a person. Every engine failure is the environment's
 * fault (exit 3 for the `felhom` command) except a policy violation, which is the spec's.
 */
import { FelhomError, type ErrorFault } from '../../lib/errors.js';
import type { EngineDiagnostic } from './diff.js';
import { describeViolations, type MandatoryViolation } from '../../policies/gate.js';

export type EngineErrorKind = 'stalled' | 'waiting' | 'generic';

export abstract class EngineError extends FelhomError {
  abstract override readonly code: string;
  abstract override readonly kind: EngineErrorKind;
  /** Each subclass names its own `code` and `kind`; `EENGINE` is only the family's. */
  constructor(message: string, options: { cause?: unknown; details?: readonly string[]; fault?: ErrorFault } = {}) {
    super('EENGINE', 'generic', message, { fault: 'environment', ...options });
  }
}

/** Another engine process holds the stack (a lock in its state backend): retry later. */
export class EngineBusyError extends EngineError {
  override readonly code = 'EENGINE_BUSY';
  override readonly kind = 'waiting';
}

/** The stack's state backend (a PostgreSQL server, say) cannot be read: retry later. */
export class EngineBackendError extends EngineError {
  override readonly code = 'EENGINE_BACKEND';
  override readonly kind = 'waiting';
}

/** The program itself threw (for example a component's argument validation): a person must fix the spec or code. */
export class EngineProgramError extends EngineError {
  override readonly code = 'EENGINE_PROGRAM';
  override readonly kind = 'stalled';
}

/** A provider plugin the program needs is not installed (`npm run engine:install`). */
export class EnginePluginMissingError extends EngineError {
  override readonly code = 'EPLUGIN_MISSING';
  override readonly kind = 'stalled';
  /** The plugins that are missing, `name version`. */
  readonly missing: readonly string[];
  constructor(message: string, missing: readonly string[], options: { cause?: unknown } = {}) {
    super(message, options);
    this.missing = missing;
  }
}

/** A policy violation the engine's policy pack reported. */
export type EnginePolicyViolation = MandatoryViolation;

/**
 * The policy pack stopped the operation on a mandatory violation (`policyPacks`): the engine
 * refuses before the step that would break the rule, so a preview that fails this way changed
 * nothing. Stalled: the spec must change. `details` says `<rule>: <message>` per violation.
 */
export class EnginePolicyError extends EngineError {
  override readonly code = 'EPOLICY_VIOLATION';
  override readonly kind = 'stalled';
  readonly violations: readonly EnginePolicyViolation[];
  constructor(violations: readonly EnginePolicyViolation[], options: { cause?: unknown } = {}) {
    const { message, details } = describeViolations(violations, ' in the engine');
    super(message, { ...options, details, fault: 'input' });
    this.violations = violations;
  }
}

/** The Pulumi CLI itself is not installed where the runner looks. */
export class EngineMissingError extends EngineError {
  override readonly code = 'EENGINE_MISSING';
  override readonly kind = 'stalled';
}

/** The operation was cancelled (the agent is stopping); the engine finished its step and released the stack. */
export class EngineCancelledError extends EngineError {
  override readonly code = 'EENGINE_CANCELLED';
  override readonly kind = 'waiting';
}

/**
 * Any other engine failure: a provider error, a resource that failed to create, the CLI crashing.
 * `diagnostics` are the engine's error diagnostics, per resource where it named one, and `details`
 * the same as lines for people (`<name> (<type>): <message>`, secrets masked by the engine).
 */
export class EngineRunError extends EngineError {
  override readonly code: string;
  override readonly kind = 'generic';
  readonly diagnostics: readonly EngineDiagnostic[];
  constructor(message: string, options: { cause?: unknown; code?: string; diagnostics?: readonly EngineDiagnostic[]; details?: readonly string[] } = {}) {
    super(message, { cause: options.cause, details: options.details });
    this.code = options.code ?? 'EENGINE_RUN';
    this.diagnostics = options.diagnostics ?? [];
  }
}
