import { Encoder } from '@msgpack/msgpack';

// @msgpack/msgpack's encode() builds an Encoder (and its 2 KiB buffer) per call; these are kept.
// Encoder.encode returns a copy of what it wrote, and clones itself when called re-entrantly.
const plain = new Encoder();
const skippingUndefined = new Encoder({ ignoreUndefined: true });

/**
 * `value` as MessagePack, exactly as `encode(value)` of @msgpack/msgpack gives it (with
 * `ignoreUndefined`: as `encode(value, { ignoreUndefined: true })`), in a new array the caller owns.
 */
export function pack(value: unknown, options?: { readonly ignoreUndefined?: boolean }): Uint8Array {
  return (options?.ignoreUndefined ? skippingUndefined : plain).encode(value);
}
