/** The part of the Deno namespace the host uses (the sources are type-checked without Deno's types). */
declare const Deno:
  | {
      args: string[];
      env: { toObject(): Record<string, string> };
      stdout: { writeSync(bytes: Uint8Array): number };
      stderr: { writeSync(bytes: Uint8Array): number };
      exit(code: number): never;
      addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
    }
  | undefined;

/**
 * What a command needs of its process: arguments, environment, the two output streams, exit and
 * the stop signals. On Deno it is `Deno.*`, so the edge agent never touches Deno's `process`
 * (whose first use loads Deno's Node compatibility layer, about 4 MB); on Node and Bun it is `process`.
 */
export interface ProcessHost {
  /** Command-line arguments after the script. */
  readonly argv: readonly string[];
  /** The environment variables (a copy). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Writes text to standard output (whole, in call order). */
  writeOut(text: string): void;
  /** Writes text to standard error (whole, in call order). */
  writeErr(text: string): void;
  /** Ends the process with `code`. */
  exit(code: number): never;
  /** Calls `handler` on each SIGTERM or SIGINT (the default action, ending the process, no longer happens). */
  onSignal(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
}

/** Writes all of `bytes` with a writeSync that may write part of them. */
function writeAll(stream: { writeSync(bytes: Uint8Array): number }, text: string): void {
  let bytes = new TextEncoder().encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
}

function denoHost(deno: NonNullable<typeof Deno>): ProcessHost {
  return {
    argv: deno.args,
    env: deno.env.toObject(),
    writeOut: (text) => writeAll(deno.stdout, text),
    writeErr: (text) => writeAll(deno.stderr, text),
    exit: (code) => deno.exit(code),
    onSignal: (signal, handler) => deno.addSignalListener(signal, handler),
  };
}

function nodeHost(): ProcessHost {
  return {
    argv: process.argv.slice(2),
    env: process.env,
    writeOut: (text) => void process.stdout.write(text),
    writeErr: (text) => void process.stderr.write(text),
    exit: (code) => process.exit(code),
    onSignal: (signal, handler) => void process.on(signal, handler),
  };
}

/** The host of this process: Deno's namespace on Deno, `process` on Node and Bun. */
export function currentHost(): ProcessHost {
  return typeof Deno !== 'undefined' ? denoHost(Deno) : nodeHost();
}
