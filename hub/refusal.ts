/** A refusal the server turns into a 4xx answer with a reason code (the error body's `code`). */
export class HubRefusal extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'HubRefusal';
    this.status = status;
    this.code = code;
  }
}
