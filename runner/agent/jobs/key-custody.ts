/**
 * The signed `key-custody` job: an operator-signed request to change who can open the box's PBS
 * key (docs/key-custody.md). `customer-only` is carried out at once (the hub's escrow deleted).
 * The other two need the customer's recovery code, which the box does not keep: the handler asks
 * for it through `recoveryCode` (a prompt on the box, or the controller's page); without a way to
 * ask, the job stalls with ERECOVERY_CODE_NEEDED and nothing changed. Under operator-managed the
 * operator keys come from the signed job itself, so whoever can unwrap is visible in the job, the
 * escrow blob and the audit log.
 */
import { fingerprintOf, readPublicKey } from '../../envelope/keys.js';
import { changeCustody, CustodyError, type CustodyContext, type CustodyState } from '../../custody/custody.js';
import type { KeyCustody } from '../../../stacks/spec/types.js';

export interface KeyCustodyBody {
  readonly action: 'key-custody';
  readonly custody: KeyCustody;
  /** Armoured public keys; with operator-managed only. */
  readonly operatorKeys?: readonly string[];
}

export interface KeyCustodyJobContext extends CustodyContext {
  /** Asks the customer on the box for the recovery code. @default - no way to ask: the job stalls */
  readonly recoveryCode?: (purpose: string) => Promise<string>;
  /**
   * The spec in force's `spec.backup.keyCustodyOperators`: with operator-managed custody the job's
   * keys must be exactly these, so the spec the customer can read says who can open the key.
   * @default - not checked
   */
  readonly specOperators?: readonly string[];
}

export async function runKeyCustodyJob(ctx: KeyCustodyJobContext, body: KeyCustodyBody): Promise<CustodyState> {
  const operatorKeys = [];
  for (const [index, armored] of (body.operatorKeys ?? []).entries()) operatorKeys.push(await readPublicKey(armored, `body.operatorKeys[${index}]`));
  if (body.custody === 'customer-only') return changeCustody(ctx, { custody: 'customer-only' });
  if (body.custody === 'operator-managed' && ctx.specOperators !== undefined) {
    const named = new Set(ctx.specOperators);
    const given = operatorKeys.map(fingerprintOf);
    if (given.length !== named.size || given.some((fingerprint) => !named.has(fingerprint))) {
      throw new CustodyError('EOPERATOR_KEYS_NOT_IN_SPEC', `the job's operator keys (${given.join(', ')}) are not the ones spec.backup.keyCustodyOperators names (${[...named].join(', ') || 'none'}): publish the spec that names them first`);
    }
  }
  if (!ctx.recoveryCode) throw new CustodyError('ERECOVERY_CODE_NEEDED', `changing key custody to ${body.custody} needs the customer's recovery code, and this box has no way to ask for it; run felhom custody set on the box with the customer`);
  const recoveryCode = await ctx.recoveryCode(`the recovery code of box ${ctx.box} (key custody → ${body.custody})`);
  return changeCustody(ctx, { custody: body.custody, recoveryCode, ...(operatorKeys.length > 0 ? { operatorKeys } : {}) });
}
