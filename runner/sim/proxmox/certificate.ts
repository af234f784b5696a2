/**
 * A self-signed certificate for the simulator's HTTPS, made at start with `openssl` (Node's
 * crypto makes keys but not X.509 certificates). PVE serves its own self-signed certificate
 * the same way, which is why the provider runs with `insecure` against a loopback host.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FelhomError } from '../../../lib/errors.js';

const execFileAsync = promisify(execFile);

export interface SelfSignedCertificate {
  readonly key: string;
  readonly cert: string;
}

/** openssl is missing or failed: the message names the Debian package. */
export class CertificateError extends FelhomError {
  /** A failure outside the command line: the environment's fault. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('ESIM_CERTIFICATE', 'generic', message, options);
  }
}

/** An EC P-256 key and a certificate for localhost and 127.0.0.1, valid for 30 days. */
export async function selfSignedCertificate(commonName = 'pve-simulator'): Promise<SelfSignedCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'felhom-pve-sim-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    try {
      await execFileAsync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30',
        '-subj', `/CN=${commonName}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
        '-keyout', keyFile, '-out', certFile,
      ], { timeout: 30_000 });
    } catch (cause) {
      const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
      throw new CertificateError(missing
        ? 'the simulator needs `openssl` for its self-signed certificate: install the Debian package openssl'
        : `openssl could not make a self-signed certificate: ${(cause as Error).message}`, { cause });
    }
    return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
