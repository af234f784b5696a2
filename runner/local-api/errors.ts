/** A local-API call refused: `status` is the HTTP answer, `code` the reason the caller sees. */
export class LocalApiRefusal extends Error {
  readonly status: number;
  readonly code: string;
  readonly kind = 'stalled' as const;
  readonly exitCode = 1;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'LocalApiRefusal';
    this.status = status;
    this.code = code;
  }
}
