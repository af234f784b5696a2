/**
 * The controller's deploy: the guest tier's program (stacks/guest.ts: Traefik and one AppStack
 * per app of this guest, `TierEnvironment.guest`) run through the runner's engine, as the agent
 * runs its tier (runner/agent/engine-op.ts), on the engine state in the controller's own state
 * directory. The program comes from an injectable factory (runner/agent/program.ts): the real
 * guest program in `felhom controller once|run`, a program of dynamic providers in tests.
 *
 * Split in two for {@link controllerCycle}: `prepare` (before the snapshot) resolves the spec,
 * checks that it names this guest and that the engine's plugins are there; `deploy` (inside the
 * snapshot) runs `up`. A spec that cannot run fails before the guest is touched.
 *
 * The stack is `<box>.guest` on a one-guest box and `<box>.guest.<guest>` where there are several
 * (docs/architecture.md#trust-tiers). The guest program reads no secret from the spec (every
 * credential in it is the host's or the edge's); a program that asks for one is refused.
 */
import { join } from 'node:path';
import type { PulumiFn } from '@pulumi/pulumi/automation/index.js';
import { FelhomError } from '../../lib/errors.js';
import type { TierEnvironment } from '../../stacks/environment.js';
import type { ResolvedBox } from '../../stacks/spec/resolve.js';
import type { BoxSpec } from '../../stacks/spec/types.js';
import type { InstalledPlugin } from '../engine/locate.js';
import type { EngineLogger, EngineOutcome, Engines, StackTarget } from '../engine/run.js';
import { SecretError } from '../envelope/index.js';
import { DEFAULT_GRACE_MS, graceSignal } from '../agent/engine-op.js';
import type { ProgramFactory } from '../agent/program.js';

/** The verified spec does not name the controller's guest. */
export class ControllerGuestError extends FelhomError {
  constructor(message: string) {
    super('ECONTROLLER_GUEST', 'stalled', message);
  }
}

export interface GuestEngineOptions {
  readonly box: string;
  readonly guest: string;
  /** The engine's file backend and workspaces (`<state>/engine`). */
  readonly engineDir: string;
  /** Where the policy pack's resolved box is written (`<state>`). */
  readonly stateDir: string;
  readonly engines: Engines;
  /** The stack secrets' passphrase (`<state>/keys/stack-passphrase`). */
  readonly passphrase: string;
  readonly programFor: ProgramFactory;
  /** Resolves a validated spec (catalog, golden sizing): runner/agent/open.ts `specRules`. */
  readonly resolve: (spec: BoxSpec) => ResolvedBox;
  /** The plugins checked before the snapshot. @default - none */
  readonly requiredPlugins?: () => Promise<readonly InstalledPlugin[]>;
  /** The policy pack every up runs with. @default - none */
  readonly policyPack?: string;
  /** The guest's Docker daemon. @default - the program's: unix:///var/run/docker.sock */
  readonly dockerHost?: string;
  readonly traefik?: TierEnvironment['traefik'];
  readonly logger?: EngineLogger;
  /** A stop: the running `up` gets `graceMs` to finish, then the engine is interrupted. */
  readonly stopSignal?: AbortSignal;
  /** @default 120 000 ms */
  readonly graceMs?: number;
}

interface Prepared {
  readonly serial: number;
  readonly box: ResolvedBox;
  readonly program: PulumiFn;
  readonly target: StackTarget;
}

/** The stack a controller runs: one per box with one guest, one per guest with several. */
export function guestStackName(box: ResolvedBox, guest: string): string {
  return box.guests.length > 1 ? `${box.box}.guest.${guest}` : `${box.box}.guest`;
}

export class GuestEngineDeploy {
  readonly #o: GuestEngineOptions;
  #prepared: Prepared | undefined;
  /** The spec last deployed (its apps are what the default health check asks). */
  applied: ResolvedBox | undefined;
  /** The last `up`'s outcome. */
  lastOutcome: EngineOutcome | undefined;

  constructor(options: GuestEngineOptions) {
    this.#o = options;
  }

  /** The spec being deployed, once prepared. */
  get pending(): ResolvedBox | undefined {
    return this.#prepared?.box;
  }

  readonly prepare = async (body: Record<string, unknown>, serial: number): Promise<void> => {
    this.#prepared = undefined;
    const box = this.#o.resolve(body as unknown as BoxSpec);
    if (box.box !== this.#o.box) throw new ControllerGuestError(`the spec is for box ${box.box}, this controller runs on box ${this.#o.box}`);
    if (!box.guests.some((guest) => guest.name === this.#o.guest)) {
      throw new ControllerGuestError(`the spec has no guest ${this.#o.guest} (it names ${box.guests.map((guest) => guest.name).join(', ') || 'none'}); nothing was deployed`);
    }
    const env: TierEnvironment = {
      secret: () => {
        throw new SecretError('the guest tier reads no secret from the spec; the controller holds none');
      },
      guest: this.#o.guest,
      ...(this.#o.dockerHost ? { dockerHost: this.#o.dockerHost } : {}),
      ...(this.#o.traefik ? { traefik: this.#o.traefik } : {}),
    };
    const plugins = this.#o.requiredPlugins ? await this.#o.requiredPlugins() : undefined;
    const target: StackTarget = {
      projectName: 'felhom',
      stackName: guestStackName(box, this.#o.guest),
      stateDir: this.#o.engineDir,
      passphrase: this.#o.passphrase,
      ...(plugins ? { requiredPlugins: plugins } : {}),
      ...(this.#o.policyPack ? await this.#policy(box, this.#o.policyPack) : {}),
    };
    // A missing plugin is a stalled failure before the snapshot.
    await this.#o.engines.preflight(target);
    this.#prepared = { serial, box, program: this.#o.programFor('guest', box, env), target };
  };

  readonly deploy = async (_body: Record<string, unknown>, serial: number): Promise<void> => {
    const prepared = this.#prepared;
    if (!prepared || prepared.serial !== serial) throw new ControllerGuestError(`serial ${serial} was not prepared before its deploy`);
    const signal = graceSignal(this.#o.stopSignal, this.#o.graceMs ?? DEFAULT_GRACE_MS, this.#o.logger ?? { warn: () => {} });
    try {
      this.lastOutcome = await this.#o.engines.run('up', prepared.program, prepared.target, { ...(this.#o.logger ? { logger: this.#o.logger } : {}), ...(signal ? { signal: signal.signal } : {}) });
      this.applied = prepared.box;
    } finally {
      signal?.dispose();
      this.#prepared = undefined;
    }
  };

  async #policy(box: ResolvedBox, pack: string): Promise<Pick<StackTarget, 'policyPacks' | 'envVars'>> {
    const { POLICY_BOX_ENV, writePolicyBox } = await import('../../policies/pack.js');
    const file = join(this.#o.stateDir, 'policy-box.guest.json');
    await writePolicyBox(box, file);
    return { policyPacks: [pack], envVars: { [POLICY_BOX_ENV]: file } };
  }
}
