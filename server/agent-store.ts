import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentSnapshot } from '../core/agent/agent.js';
import { StorageError } from '../core/errors.js';

/**
 * Persists the local agent's definitions in <dataDir>/agent-state.json (written to a temporary
 * file, then renamed, so a crash leaves the old or the new file, never half of one).
 */
export class AgentStateFile {
  private readonly file: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(dataDir: string) {
    this.file = join(dataDir, 'agent-state.json');
  }

  async load(): Promise<AgentSnapshot | undefined> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as AgentSnapshot;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StorageError(`cannot read ${this.file}: ${(err as Error).message}`, err);
    }
  }

  /** Saves a snapshot; saves are serialized in call order. */
  save(snapshot: AgentSnapshot): Promise<void> {
    const text = JSON.stringify(snapshot);
    this.chain = this.chain.then(async () => {
      await writeFile(`${this.file}.tmp`, text);
      await rename(`${this.file}.tmp`, this.file);
    });
    return this.chain;
  }
}
