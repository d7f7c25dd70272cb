/**
 * Starts a 3-server cluster on loopback for trying Konsul out: `npm run cluster`.
 * HTTP on 127.0.0.1:8501-8503, raft on 127.0.0.1:8301-8303, data in ./.konsul-cluster/n1..n3.
 * Ctrl-C stops all three.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const cli = resolve(import.meta.dirname, '../dist/cli.js');
const names = ['n1', 'n2', 'n3'];
const raft = (i: number) => `127.0.0.1:${8301 + i}`;
const procs: ChildProcess[] = names.map((name, i) => {
  const args = [
    cli,
    'server',
    '--node-name',
    name,
    '--http-addr',
    `127.0.0.1:${8501 + i}`,
    '--raft-addr',
    raft(i),
    '--data-dir',
    `.konsul-cluster/${name}`,
    '--bootstrap-expect',
    '3',
    ...names.flatMap((_, j) => (j === i ? [] : ['--join', raft(j)])),
  ];
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = (d: Buffer) => process.stdout.write(d.toString().replace(/^(?=.)/gm, `[${name}] `));
  p.stdout?.on('data', prefix);
  p.stderr?.on('data', prefix);
  p.on('exit', (code) => console.log(`[${name}] exited with ${code}`));
  return p;
});
console.log('Konsul cluster: HTTP on http://127.0.0.1:8501, :8502, :8503 (Ctrl-C to stop)');
const stop = () => {
  for (const p of procs) p.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
await Promise.all(procs.map((p) => new Promise((r) => p.on('exit', r))));
