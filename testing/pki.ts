import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { requireProgram } from './process.js';

/** A CA and a server certificate for 127.0.0.1 signed by it, made with openssl. */
export function makePki(dir: string, name: string): { ca: string; cert: string; key: string } {
  requireProgram('openssl', 'openssl');
  const p = (f: string) => join(dir, `${name}-${f}`);
  const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}-ca`,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
  );
  run(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    p('server.key'),
    '-out',
    p('server.csr'),
  );
  const ext = p('ext.cnf');
  execFileSync('sh', [
    '-c',
    `printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > ${ext}`,
  ]);
  run(
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.pem'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    p('server.pem'),
  );
  return { ca: p('ca.pem'), cert: p('server.pem'), key: p('server.key') };
}
