// Entry point of the hot-path module: CRC32C, the ordered key index and the prefix matcher.
export { crc32c } from './crc32c';
export { frameSeal, frameCheck } from './frame';
export { scratch } from './buffers';
export {
  kvCount,
  kvLowerBound,
  kvFind,
  kvInsert,
  kvDelete,
  kvPrefixRange,
  kvRangeEnd,
  kvIds,
  kvSeparated,
} from './kv-index';
export { pmAdd, pmRemove, pmMatch, pmMatchMany } from './prefix-matcher';
