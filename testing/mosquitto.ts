import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts, requireProgram, startProcess, type TestProcess, tempDir } from './process.js';

/** The mosquitto binary (Debian installs it under /usr/sbin, which may not be on PATH). */
export function mosquittoBinary(): string {
  return existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto';
}

/** A real mosquitto broker on 127.0.0.1 and a free port (anonymous, no persistence). */
export interface SpawnedMosquitto extends TestProcess {
  readonly url: string;
  readonly port: number;
}

/**
 * Starts mosquitto (from apt) on a free loopback port (or `port`) and waits until it accepts
 * connections. `config` holds extra mosquitto.conf lines (e.g. `set_tcp_nodelay true`).
 */
export async function spawnMosquitto(port?: number, config: readonly string[] = []): Promise<SpawnedMosquitto> {
  requireProgram(mosquittoBinary(), 'mosquitto');
  const p = port ?? ((await freePorts(1))[0] as number);
  const conf = join(tempDir('konsul-mosquitto-'), 'mosquitto.conf');
  const lines = [`listener ${p} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', ...config];
  writeFileSync(conf, `${lines.join('\n')}\n`);
  const proc = await startProcess(mosquittoBinary(), ['-c', conf], {
    ready: /mosquitto version \S+ running/,
    what: 'mosquitto',
  });
  return { ...proc, port: p, url: `mqtt://127.0.0.1:${p}` };
}
