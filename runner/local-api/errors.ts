import { FelhomError } from '../../lib/errors.js';

/** A local-API call refused: `status` is the HTTP answer, `code` the reason the caller sees. */
export class LocalApiRefusal extends FelhomError {
  readonly status: number;
  declare readonly kind: 'stalled';
  constructor(status: number, code: string, message: string) {
    super(code, 'stalled', message);
    this.status = status;
  }
}
