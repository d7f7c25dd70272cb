import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import { bunRuntime } from '../runtimes/bun/index.js';
import { formatRows, runHotPathBench } from './hotpaths-core.js';

declare const Bun: { version: string };
const rows = runHotPathBench(await bunRuntime.loadHotPaths('wasm'), createTsHotPaths(), () => performance.now());
console.log(formatRows(`bun ${Bun.version}`, rows));
console.log(`JSON ${JSON.stringify({ runtime: 'bun', rows })}`);
