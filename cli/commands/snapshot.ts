import { renameSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SNAPSHOT_TABLES } from '../../core/api/routes/snapshot.js';
import { KonsulError } from '../../core/errors.js';
import { createTsHotPaths } from '../../core/hotpaths/ts-hot-paths.js';
import { archiveLength, readArchive } from '../../core/snapshot/archive.js';
import { parseDump } from '../../core/snapshot/state-snapshot.js';
import { pack } from '../../core/util/msgpack.js';
import { failure } from '../client/api.js';
import { CliError } from '../client/errors.js';
import { readFileOrFail } from '../client/files.js';
import { json, progress, table } from '../client/output.js';
import { type ClientCommand, formatFlag, formatOf, type LocalCommand } from './common.js';

/** What `snapshot inspect` reports of an archive. */
export interface SnapshotSummary {
  readonly Index: number;
  readonly Term: number;
  readonly Size: number;
  readonly Version: number;
  readonly Tables: ReadonlyArray<{ readonly Name: string; readonly Rows: number; readonly Bytes: number }>;
}

/** Validates an archive (header, length, CRC32C, table layout) and summarizes it; CliError if it is not one. */
export function inspectArchive(data: Uint8Array): SnapshotSummary {
  let parsed: ReturnType<typeof readArchive>;
  let tables: ReturnType<typeof parseDump>;
  try {
    parsed = readArchive(createTsHotPaths(), data);
    tables = parseDump(parsed.body, SNAPSHOT_TABLES);
  } catch (err) {
    throw new CliError(`not a valid Konsul snapshot: ${err instanceof KonsulError ? err.message : String(err)}`);
  }
  return {
    Index: parsed.info.index,
    Term: parsed.info.term,
    Size: data.byteLength,
    Version: 1,
    Tables: Object.keys(tables)
      .sort()
      .map((name) => {
        const rows = tables[name] ?? [];
        return { Name: name, Rows: rows.length, Bytes: rows.reduce((n, row) => n + pack(row).byteLength, 0) };
      }),
  };
}

const readSnapshotFile = (path: string): Buffer => readFileOrFail(path, 'snapshot file');

/** Registers `snapshot save|restore|inspect`. */
export function registerSnapshotCommands(program: Command, client: ClientCommand, local: LocalCommand): void {
  const snapshot = program.command('snapshot').description('save, restore and inspect snapshots of the data');

  client(
    snapshot
      .command('save')
      .description('save a snapshot of the data to FILE (written whole, then verified)')
      .argument('<file>', 'where to write it')
      .option('--stale', 'let any server answer (possibly behind the leader)'),
    async (c, io, file: string, o: { stale?: boolean }) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let bar: ReturnType<typeof progress> | undefined;
      await c.stream('/v1/snapshot', { stale: o.stale }, (chunk) => {
        chunks.push(chunk);
        received += chunk.byteLength;
        // The archive's header, its first 32 bytes, says how long it is.
        const total = bar ? undefined : archiveLength(Buffer.concat(chunks));
        if (total !== undefined) bar = progress(io, 'Saving', Math.ceil(total / 1024));
        bar?.update(Math.ceil(received / 1024));
      });
      bar?.stop();
      const data = Buffer.concat(chunks);
      const summary = inspectArchive(data);
      const tmp = `${file}.tmp`;
      try {
        writeFileSync(tmp, data);
        renameSync(tmp, file);
      } catch (err) {
        throw new CliError(`cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      io.out(`Saved and verified snapshot to index ${summary.Index}\n`);
      return 0;
    },
  );

  client(
    snapshot
      .command('restore')
      .description('replace the data with a snapshot FILE (checked before it is sent)')
      .argument('<file>', 'a file written by snapshot save'),
    async (c, io, file: string) => {
      const data = readSnapshotFile(file);
      inspectArchive(data);
      const a = await c.request('PUT', '/v1/snapshot', { body: data });
      if (a.status !== 200) throw failure(a);
      io.out('Restored snapshot\n');
      return 0;
    },
  );

  local(
    formatFlag(
      snapshot
        .command('inspect')
        .description("a snapshot FILE's index, term, size and rows per table")
        .argument('<file>', 'a file written by snapshot save'),
    ),
    async (io, file: string, o: { format?: string }) => {
      const summary = inspectArchive(readSnapshotFile(file));
      if (formatOf(o) === 'json') {
        io.out(json(summary));
        return 0;
      }
      const head = [
        [' Index', String(summary.Index)],
        [' Term', String(summary.Term)],
        [' Size', String(summary.Size)],
        [' Version', String(summary.Version)],
      ];
      const rows = summary.Tables.map((t) => [` ${t.Name}`, String(t.Rows), String(t.Bytes)]);
      io.out(`${table(undefined, head)}\n${table([' Table', 'Rows', 'Bytes'], rows)}`);
      return 0;
    },
  );
}
