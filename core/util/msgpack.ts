import { Decoder, Encoder } from '@msgpack/msgpack';

// @msgpack/msgpack's encode() and decode() build an Encoder (and its 2 KiB buffer) or a Decoder
// per call; these are kept. Encoder.encode returns a copy of what it wrote; both clone themselves
// when called re-entrantly.
const plain = new Encoder();
const decoder = new Decoder();
const skippingUndefined = new Encoder({ ignoreUndefined: true });

/**
 * `value` as MessagePack, exactly as `encode(value)` of @msgpack/msgpack gives it (with
 * `ignoreUndefined`: as `encode(value, { ignoreUndefined: true })`), in a new array the caller owns.
 */
export function pack(value: unknown, options?: { readonly ignoreUndefined?: boolean }): Uint8Array {
  return (options?.ignoreUndefined ? skippingUndefined : plain).encode(value);
}

/** The value `bytes` encode, exactly as `decode(bytes)` of @msgpack/msgpack gives it; throws as it does. */
export function unpack(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}
