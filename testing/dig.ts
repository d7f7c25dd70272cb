import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Asks the DNS server at `dnsAddr` (host:port) for the A records of `name` with `dig` (apt
 * dnsutils) over UDP, one try of 3 s: the response status (NOERROR, NXDOMAIN, SERVFAIL…) and the
 * answer section's addresses in order.
 */
export async function digA(dnsAddr: string, name: string): Promise<{ status: string; answers: string[] }> {
  const at = dnsAddr.lastIndexOf(':');
  const args = [`@${dnsAddr.slice(0, at)}`, '-p', dnsAddr.slice(at + 1), name, 'A'];
  const { stdout } = await run('dig', [...args, '+noall', '+answer', '+comments', '+time=3', '+tries=1']);
  const status = /status: (\w+)/.exec(stdout)?.[1] ?? '?';
  const answers = stdout
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith(';'))
    .map((l) => l.split(/\s+/).at(-1) as string);
  return { status, answers };
}
