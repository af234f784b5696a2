import { FelhomError } from '../lib/errors.js';

/** A refusal the server turns into a 4xx answer with a reason code (the error body's `code`). */
export class HubRefusal extends FelhomError {
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(code, 'generic', message, { fault: 'input' });
    this.status = status;
  }
}
