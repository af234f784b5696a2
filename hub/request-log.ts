/**
 * The hub's request log: one structured line per answered request. It names the operator or
 * box that asked, never a token, a key or a body.
 */
import { isIP } from 'node:net';

export interface RequestLogEntry {
  readonly time: string;
  readonly method: string;
  /** The path only: query strings are left out. */
  readonly path: string;
  /** The status sent; 0 when the connection closed before an answer. */
  readonly status: number;
  /** From the request's arrival to its end (a long poll's hold included). */
  readonly ms: number;
  readonly operator?: string;
  readonly box?: string;
  /** The client went away before the answer was complete. */
  readonly aborted?: true;
}

/** One JSON line for the log. */
export function formatRequestLog(entry: RequestLogEntry): string {
  return JSON.stringify({ msg: 'request', ...entry });
}

/** Whether a listening address is reachable only from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(address: string): boolean {
  if (address === 'localhost' || address === '::1' || address === '::ffff:127.0.0.1') return true;
  return isIP(address) === 4 && address.startsWith('127.');
}
