import { KonsulError } from '../core/errors.js';
import { VERSION } from './version.js';

const USAGE = `Usage: konsul <command> [flags]

Commands:
  server    run a Konsul server (try: konsul server --dev)
  edge      run an edge agent: a local replica that keeps serving while offline
  version   print the version

Run 'konsul <command> --help' for a command's flags.
`;

/**
 * Dispatches a CLI command; server code is loaded only when asked for (it needs Node and LMDB), edge
 * code likewise (it runs on Node, Deno and Bun).
 */
async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'server': {
      const { runServerCommand } = await import('./server.js');
      return runServerCommand(rest, process.env);
    }
    case 'edge': {
      const { runEdgeCommand } = await import('./edge.js');
      return runEdgeCommand(rest, process.env);
    }
    case 'version':
    case '--version':
      process.stdout.write(`Konsul v${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`konsul: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof KonsulError && err.code === 'config') {
      process.stderr.write(`konsul: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`konsul: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
