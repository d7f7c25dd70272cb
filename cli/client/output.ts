import { SingleBar } from 'cli-progress';

/** Where a command writes: stdout, stderr, and whether stdout is a terminal. */
export interface Io {
  /** Writes to stdout (bytes as they are: values may be binary). */
  out(text: string | Uint8Array): void;
  err(text: string): void;
  readonly tty: boolean;
  /** Reads all of stdin (for `-` arguments). */
  stdin(): Promise<Buffer>;
}

/** The process's own streams. */
export const PROCESS_IO: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  get tty() {
    return process.stdout.isTTY === true;
  },
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  },
};

/** Rows aligned in columns two spaces apart (as Consul's columnize), the header first; ends with a newline. */
export function table(header: readonly string[] | undefined, rows: ReadonlyArray<readonly string[]>): string {
  const all = header ? [header, ...rows] : rows;
  const widths: number[] = [];
  for (const r of all) r.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat((widths[i] as number) - [...cell].length)))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/** JSON as `-format=json` prints it: two-space indentation and a final newline. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** A progress bar on stderr while stdout is a terminal; nothing when piped. */
export interface Progress {
  update(done: number): void;
  stop(): void;
}

/** Starts a progress bar of `total` units named `label` (quiet unless `io.tty`). */
export function progress(io: Io, label: string, total: number): Progress {
  if (!io.tty) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% | {value}/{total}`,
    hideCursor: true,
    clearOnComplete: false,
    stream: process.stderr,
    noTTYOutput: false,
  });
  bar.start(total, 0);
  return { update: (done) => bar.update(done), stop: () => bar.stop() };
}
