// Runs the shared hot-path vectors on the WebAssembly path under Bun; prints JSON.
import { loadHotPathsBun } from '../bun/hot-paths.js';
import { runVectors } from './hot-paths.vectors.js';

const hp = await loadHotPathsBun('wasm');
console.log(JSON.stringify({ impl: hp.impl, results: runVectors(hp) }));
