import { runEdgeCommand } from './edge.js';
import { exitWith } from './exit.js';
import { currentHost } from '../runtimes/host.js';

/*
 * The edge agent's own entry point (dist/edge/edge.js): `node dist/edge/edge.js --upstream …`,
 * `bun dist/edge/edge.js …`, `deno run -A dist/edge/edge.js …`, with the same flags as
 * `konsul edge`. It loads nothing of the servers or the client commands, and on Deno it never
 * touches `process` (see runtimes/host.ts).
 */
const host = currentHost();
exitWith(runEdgeCommand(host.argv, host.env, host), host);
