import { createTsHotPaths } from '../core/hotpaths/ts-hot-paths.js';
import { loadHotPaths } from '../runtimes/node/hot-paths.js';
import { formatRows, runHotPathBench } from './hotpaths-core.js';

const rows = runHotPathBench(await loadHotPaths('wasm'), createTsHotPaths(), () => performance.now());
console.log(formatRows(`node ${process.version}`, rows));
console.log(`JSON ${JSON.stringify({ runtime: 'node', rows })}`);
