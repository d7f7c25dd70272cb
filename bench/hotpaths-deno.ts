import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import { loadHotPathsDeno } from '../runtimes/deno/hot-paths.js';
import { formatRows, runHotPathBench } from './hotpaths-core.js';

declare const Deno: { version: { deno: string } };
const rows = runHotPathBench(await loadHotPathsDeno('wasm'), createTsHotPaths(), () => performance.now());
console.log(formatRows(`deno ${Deno.version.deno}`, rows));
console.log(`JSON ${JSON.stringify({ runtime: 'deno', rows })}`);
