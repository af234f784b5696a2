/**
 * The shape every Felhom policy rule is written against. A rule is plain data plus plain
 * functions over planned resources, so the same rule runs in `felhom plan` / `felhom policy
 * check` (over the mock runtime's records), in the engine as a @pulumi/policy PolicyPack
 * (over the analyzer's resources), and in CI (docs/policies.md).
 */
import type { ResolvedBox } from '../stacks/spec/resolve.js';
import type { Tier } from '../stacks/spec/types.js';

/** mandatory blocks the plan (exit 1, engine refuses); advisory only reports. */
export type EnforcementLevel = 'mandatory' | 'advisory';

/**
 * One planned resource, as both hosts can describe it. The offline host builds it from a
 * `RecordedResource`; the pack from the analyzer's `ResourceValidationArgs` / `PolicyResource`.
 */
export interface PolicyResource {
  /** Pulumi type token, for example `proxmoxve:index/containerLegacy:ContainerLegacy`. */
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  /** The parent's type token (`felhom:guest:Traefik`), when known. */
  readonly parentType?: string;
  /** The parent's name (an AppStack's name is its app instance name), when known. */
  readonly parent?: string;
  /**
   * Inputs. Values not known until apply are {@link UNKNOWN}; in the offline host, secrets
   * are masked as {@link SECRET}.
   */
  readonly inputs: Readonly<Record<string, unknown>>;
  /**
   * Dotted paths of inputs that are Pulumi secrets (`environment.TUNNEL_TOKEN`, `envs[2]`).
   * Undefined when the host cannot see secretness: @pulumi/policy unwraps secrets before a
   * policy sees them (docs/policies.md#no-plaintext-secrets).
   */
  readonly secretPaths?: readonly string[];
  readonly protect: boolean;
}

/** Marker for an input not known at plan time (the mock runtime's and the pack's unknowns). */
export const UNKNOWN = '[computed]';
/** Marker for a masked secret input (the mock runtime's). */
export const SECRET = '[secret]';

/** What a rule knows besides the resources. */
export interface PolicyContext {
  /** The tier whose stack is checked. */
  readonly tier: Tier;
  /**
   * The resolved box spec. Always present offline; in the pack only when the runner passed it
   * (FELHOM_POLICY_BOX), otherwise rules that need it are not applicable.
   */
  readonly box?: ResolvedBox;
}

/** A context whose box is known, for rules that need it. */
export interface BoxContext extends PolicyContext {
  readonly box: ResolvedBox;
}

/** One broken invariant: what is wrong and what the operator should change. */
export interface Violation {
  readonly message: string;
  /** The resource at fault; absent when the stack as a whole is (a missing backup job). */
  readonly urn?: string;
}

export interface PolicyRule {
  /** Stable id, used in `spec.policy.advisory` and as the PolicyPack policy name. */
  readonly name: string;
  /** One sentence: what the rule guarantees. */
  readonly description: string;
  /** The level on a production box; see {@link PolicyRule.levelFor}. */
  readonly level: EnforcementLevel;
  /** How to fix a violation, for docs and the engine's remediation hint. */
  readonly remediation: string;
  /** The tiers whose stacks the rule inspects. */
  readonly tiers: readonly Tier[];
  /** True when the rule cannot run without the resolved box spec. */
  readonly needsBox: boolean;
  /** The level for a particular box before any downgrade (supply-chain: advisory on lab boxes). @default - level */
  readonly levelFor?: (box: ResolvedBox) => EnforcementLevel;
  /**
   * A check of one resource at a time (the pack's `validateResource`). Returns messages.
   * Rules may have this, {@link checkStack}, or both.
   */
  readonly checkResource?: (resource: PolicyResource, context: PolicyContext) => string[];
  /** A check of the whole tier stack (the pack's `validateStack`). */
  readonly checkStack?: (resources: readonly PolicyResource[], context: PolicyContext) => Violation[];
  /**
   * Why the rule cannot run in the engine's analyzer, when it cannot (the pack then reports
   * it as not applicable with this reason instead of guessing).
   */
  readonly notInPack?: string;
}

/** The tier of a stack named `<box>.<tier>`, read from a URN `urn:pulumi:<stack>::...`. */
export function tierOfUrn(urn: string): Tier | undefined {
  const stack = urn.split('::')[0]?.replace(/^urn:pulumi:/, '') ?? '';
  const tier = stack.slice(stack.lastIndexOf('.') + 1);
  return tier === 'edge' || tier === 'host' || tier === 'guest' ? tier : undefined;
}
