/** The simulator's refusals: PVE's HTTP status and message (the message becomes the status line). */
import { FelhomError } from '../../../lib/errors.js';

export class SimApiError extends FelhomError {
  readonly status: number;
  /** Per-parameter errors of a 400 PVE raises from inside a method (raise_param_exc). */
  readonly errors: Readonly<Record<string, string>> | undefined;
  constructor(status: number, message: string, errors?: Readonly<Record<string, string>>) {
    super('ESIM_API', 'generic', message, { fault: 'input' });
    this.status = status;
    this.errors = errors;
  }
}

/** PVE's raise_param_exc: 400 `Parameter verification failed.` with the errors by parameter. */
export function parameterError(errors: Readonly<Record<string, string>>): SimApiError {
  return new SimApiError(400, 'Parameter verification failed.', errors);
}
