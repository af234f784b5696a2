/**
 * Where operator commands find the hub and the operator token: flags first, then the
 * environment (FELHOM_HUB_URL, FELHOM_HUB_OPERATOR_TOKEN). Prefer the environment for the
 * token: a flag is visible to every user of the machine in the process list.
 */
import { HubClient } from './client.js';
import { FelhomError } from '../../lib/errors.js';

export const HUB_URL_ENV = 'FELHOM_HUB_URL';
export const OPERATOR_TOKEN_ENV = 'FELHOM_HUB_OPERATOR_TOKEN';

/** A command line that does not say which hub or token to use: a usage error. */
export class HubConfigError extends FelhomError {
  constructor(message: string) {
    super('EUSAGE', 'usage', message);
  }
}

/** `operatorToken` is the option's name (`--operator-token`); `token` its old spelling. */
export function operatorClient(options: { hub?: unknown; operatorToken?: unknown; token?: unknown }, env: NodeJS.ProcessEnv): HubClient {
  const url = typeof options.hub === 'string' && options.hub ? options.hub : env[HUB_URL_ENV];
  if (!url) throw new HubConfigError(`which hub? pass --hub <url> or set ${HUB_URL_ENV}`);
  const flag = [options.operatorToken, options.token].find((value): value is string => typeof value === 'string' && value !== '');
  const token = flag ?? env[OPERATOR_TOKEN_ENV];
  if (!token) throw new HubConfigError(`no operator token: set ${OPERATOR_TOKEN_ENV} (or pass --operator-token)`);
  return new HubClient({ url, token });
}
