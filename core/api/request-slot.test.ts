import { describe, expect, it } from 'vitest';
import { requestSlot } from './request-slot.js';

describe('requestSlot', () => {
  it('keeps a value per request, apart from other slots and other requests', () => {
    const a = requestSlot<number>('a');
    const b = requestSlot<string>('b');
    const r1 = new Request('http://127.0.0.1/x');
    const r2 = new Request('http://127.0.0.1/x');
    expect(a.get(r1)).toBeUndefined();
    a.set(r1, 1);
    b.set(r1, 'one');
    a.set(r2, 2);
    expect([a.get(r1), b.get(r1), a.get(r2), b.get(r2)]).toEqual([1, 'one', 2, undefined]);
    a.set(r1, 3);
    expect(a.get(r1)).toBe(3);
    // Not a property anyone enumerates or serializes.
    expect(Object.keys(r1)).toEqual([]);
  });
});
