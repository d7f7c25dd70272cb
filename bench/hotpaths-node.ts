import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import { nodeRuntime } from '../runtimes/node/index.js';
import { formatRows, runHotPathBench } from './hotpaths-core.js';

const rows = runHotPathBench(await nodeRuntime.loadHotPaths('wasm'), createTsHotPaths(), () => performance.now());
console.log(formatRows(`node ${process.version}`, rows));
console.log(`JSON ${JSON.stringify({ runtime: 'node', rows })}`);
