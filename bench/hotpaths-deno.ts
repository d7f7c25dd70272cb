import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import { denoRuntime } from '../runtimes/deno/index.js';
import { formatRows, runHotPathBench } from './hotpaths-core.js';

declare const Deno: { version: { deno: string } };
const rows = runHotPathBench(await denoRuntime.loadHotPaths('wasm'), createTsHotPaths(), () => performance.now());
console.log(formatRows(`deno ${Deno.version.deno}`, rows));
console.log(`JSON ${JSON.stringify({ runtime: 'deno', rows })}`);
