// Runs the shared hot-path vectors on the WebAssembly path under Deno; prints JSON.
import { loadHotPathsDeno } from '../deno/hot-paths.js';
import { runVectors } from './hot-paths.vectors.js';

const hp = await loadHotPathsDeno('wasm');
console.log(JSON.stringify({ impl: hp.impl, results: runVectors(hp) }));
