import { exitWith } from './exit.js';
import { VERSION } from './version.js';

const USAGE = `Usage: konsul <command> [flags]

Commands:
  server    run a Konsul server (try: konsul server --dev)
  edge      run an edge agent: a local replica that keeps serving while offline
            (edge status, edge outbox: an agent's state)
  kv        read and write the key/value store (get, put, delete, export, import)
  catalog   list datacenters, nodes and services
  services  register and deregister services (definition files in JSON or HCL)
  members   list the servers of the cluster
  info      the agent's configuration and state
  join      join servers to the cluster; leave: leave it and shut down
  maint     node and service maintenance
  monitor   stream the agent's log lines
  operator  raft list-peers|remove-peer|transfer-leader, autopilot get-config|set-config|state
  chaos     start|list|stop chaos experiments (servers started with --enable-chaos)
  snapshot  save, restore and inspect snapshots of the data
  secrets   keyring list|install|use|remove, rotation: keys of KV values encrypted at rest
  keygen    print a new 32-byte key in base64 (for --encrypt-key-file)
  acl       bootstrap; policy, role, token, auth-method, binding-rule create|list|read|update|delete
  login     exchange a JWT for a token with an auth method; logout: destroy it
  watch     run a handler once per change of a key, prefix, service, checks or events
  lock      hold a lock (or a semaphore slot) while a command runs
  template  render templates from KV and the catalog into files, again on every change
  env       run a command with KV keys as environment variables, restarted when they change
  replicate copy KV prefixes from another datacenter into this one and keep following them
  tls       ca create, cert create -server|-client|-cli: PEM files for --tls-* and --raft-tls-*
  validate  check server or edge config files and name every bad key
  debug     collect state, metrics samples and logs into a .tar.gz for a bug report
  completion  a bash or zsh completion script (source <(konsul completion bash))
  version   print the version

Client commands take Consul's flags (-http-addr, -token, -ca-file, …; single or double dash) and
KONSUL_HTTP_ADDR, KONSUL_HTTP_TOKEN, … or Consul's CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, ….

Run 'konsul <command> --help' for a command's flags.
`;

/** Runs a client command (cli/commands). */
async function client(argv: readonly string[]): Promise<number> {
  const [{ runClientCommand }, { PROCESS_IO }] = await Promise.all([
    import('./commands/program.js'),
    import('./client/output.js'),
  ]);
  const code = await runClientCommand(argv, process.env, PROCESS_IO);
  // process.exit would cut a piped stdout short: wait until what was written is flushed.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  return code;
}

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
      // `edge status` and `edge outbox` ask an agent; anything else runs one.
      if (rest[0] === 'status' || rest[0] === 'outbox') return client(argv);
      const { runEdgeCommand } = await import('./edge.js');
      return runEdgeCommand(rest, process.env);
    }
    case 'kv':
    case 'catalog':
    case 'members':
    case 'info':
    case 'join':
    case 'leave':
    case 'maint':
    case 'monitor':
    case 'operator':
    case 'chaos':
    case 'snapshot':
    case 'secrets':
    case 'keygen':
    case 'services':
    case 'acl':
    case 'login':
    case 'logout':
    case 'watch':
    case 'lock':
    case 'template':
    case 'env':
    case 'replicate':
    case 'tls':
    case 'validate':
    case 'completion':
    case 'debug':
      return client(argv);
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

exitWith(main(process.argv.slice(2)));
