import { type ChildProcess, spawn } from 'node:child_process';

/** How a Supervisor runs its child. */
export interface SupervisorOptions {
  /** The command line (run directly, not through a shell). */
  readonly command: readonly string[];
  /** The child's environment for each start (default: this process's). */
  readonly env?: () => NodeJS.ProcessEnv;
  /** Sent on a change; without it a change restarts the child. */
  readonly reloadSignal?: NodeJS.Signals;
  /** Sent to stop the child (default SIGTERM); SIGKILL follows after killTimeoutMs. */
  readonly killSignal?: NodeJS.Signals;
  readonly killTimeoutMs?: number;
  /** Pause before starting a child that died by itself again (default 1000 ms). */
  readonly restartDelayMs?: number;
  /** When set, a child that exits by itself is not restarted: this is told its exit code instead. */
  readonly onDied?: (code: number) => void;
  /** Told what happens (a start, a death, a restart). */
  readonly log: (line: string) => void;
}

/**
 * Keeps one child process running for `konsul template -exec` and `konsul env`: starts it,
 * restarts it when it dies by itself (or reports that, with `onDied`), sends it the reload
 * signal (or restarts it) on a change, forwards signals to it, and on stop ends it and gives its
 * exit code.
 */
export class Supervisor {
  private child: ChildProcess | undefined;
  private exited: Promise<number> | undefined;
  private stopping = false;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** Starts so far (for tests and logs). */
  starts = 0;

  constructor(private readonly o: SupervisorOptions) {}

  /** Starts the child (once; later starts are restarts). */
  start(): void {
    if (this.child || this.stopping) return;
    const [cmd, ...args] = this.o.command;
    if (cmd === undefined) throw new Error('no command to run');
    const child = spawn(cmd, args, { stdio: 'inherit', env: this.o.env?.() ?? process.env });
    this.child = child;
    this.starts++;
    this.exited = new Promise<number>((resolve) => {
      child.on('error', (err) => {
        this.o.log(`child ${cmd} could not start: ${err.message}`);
        resolve(127);
      });
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + signalNumber(signal) : 1)));
    });
    void this.exited.then((code) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.stopping) return;
      if (this.o.onDied) {
        this.stopping = true;
        this.o.onDied(code);
        return;
      }
      this.o.log(`child exited with ${code}; starting it again`);
      this.restartTimer = setTimeout(() => this.start(), this.o.restartDelayMs ?? 1000);
    });
  }

  /** A change: the reload signal, or (without one) a restart. */
  async changed(): Promise<void> {
    if (!this.child) return;
    if (this.o.reloadSignal) {
      this.child.kill(this.o.reloadSignal);
      return;
    }
    await this.end();
    if (!this.stopping) this.start();
  }

  /** Passes a signal to the child. */
  forward(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Ends the child for good; resolves with its exit code (0 when none runs). */
  async stop(): Promise<number> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    return this.end();
  }

  private async end(): Promise<number> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) return 0;
    this.child = undefined;
    child.kill(this.o.killSignal ?? 'SIGTERM');
    const hard = setTimeout(() => child.kill('SIGKILL'), this.o.killTimeoutMs ?? 5000);
    const code = await exited;
    clearTimeout(hard);
    return code;
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGUSR1: 10,
    SIGUSR2: 12,
    SIGTERM: 15,
  };
  return numbers[signal] ?? 0;
}
