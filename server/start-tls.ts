import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { HttpTls } from '../runtimes/node/http-server.js';
import type { ServerConfig } from './config.js';
import { readFailed, StartupError } from './start-errors.js';

/** A PEM file named by a flag, read and checked. */
interface PemFile {
  readonly flag: string;
  readonly path: string;
  readonly text: string;
}

async function readPem(flag: string, path: string): Promise<PemFile> {
  try {
    return { flag, path, text: await readFile(path, 'utf8') };
  } catch (err) {
    throw readFailed(flag, path, err);
  }
}

const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function checkCertificate(f: PemFile): void {
  try {
    new X509Certificate(f.text);
  } catch (err) {
    throw new StartupError(f.flag, f.path, `${f.flag} ${f.path} is not a PEM certificate: ${reason(err)}`);
  }
}

function checkPrivateKey(f: PemFile): void {
  try {
    createPrivateKey(f.text);
  } catch (err) {
    throw new StartupError(f.flag, f.path, `${f.flag} ${f.path} is not a PEM private key: ${reason(err)}`);
  }
}

/** Each file parses, and the key belongs to the certificate (as TLS itself will check). */
function checkPair(cert: PemFile, key: PemFile, ca: PemFile | undefined): void {
  checkCertificate(cert);
  checkPrivateKey(key);
  if (ca) checkCertificate(ca);
  try {
    createSecureContext({ cert: cert.text, key: key.text, ...(ca ? { ca: ca.text } : {}) });
  } catch (err) {
    throw new StartupError(
      key.flag,
      key.path,
      `${key.flag} ${key.path} does not fit ${cert.flag} ${cert.path}: ${reason(err)}`,
    );
  }
}

/**
 * Reads and checks the HTTPS PEM files (at start-up and on each SIGHUP reload). Throws
 * StartupError naming the flag and file that cannot be read, does not parse, or (the key) does
 * not belong to the certificate.
 */
export async function readHttpTls(t: NonNullable<ServerConfig['httpTls']>): Promise<HttpTls> {
  const cert = await readPem('--tls-cert', t.cert);
  const key = await readPem('--tls-key', t.key);
  const ca = t.ca ? await readPem('--tls-ca', t.ca) : undefined;
  checkPair(cert, key, ca);
  return { cert: cert.text, key: key.text, ...(ca ? { ca: ca.text } : {}), verifyIncoming: t.verifyIncoming };
}

/**
 * Checks the raft transport's PEM files before it reads them itself, so a bad one stops the start
 * with a StartupError naming its flag (--raft-tls-cert, --raft-tls-key or --raft-tls-ca).
 */
export async function checkRaftTls(t: NonNullable<ServerConfig['raftTls']>): Promise<void> {
  const cert = await readPem('--raft-tls-cert', t.cert);
  const key = await readPem('--raft-tls-key', t.key);
  const ca = await readPem('--raft-tls-ca', t.ca);
  checkPair(cert, key, ca);
}
