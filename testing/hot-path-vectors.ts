// Runs the shared hot-path vectors on the WebAssembly path, loaded by the adapter of the runtime
// this runs on (runtimes/wasm/load.test.ts starts it under Deno and Bun); prints JSON.
import { currentRuntime } from '../runtimes/current.js';
import { runVectors } from '../core/ports/hot-paths.vectors.js';

const runtime = await currentRuntime();
const hp = await runtime.loadHotPaths('wasm');
console.log(JSON.stringify({ runtime: runtime.name, impl: hp.impl, results: runVectors(hp) }));
