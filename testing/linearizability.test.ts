import { describe, expect, it } from 'vitest';
import {
  checkLinearizability,
  type Operation,
  registerModel,
  type RegisterInput,
  type RegisterOutput,
  shortestFailingPrefix,
} from './linearizability.js';

type Op = Operation<RegisterInput, RegisterOutput>;
const put = (value: string, call: number, ret: number, key = 'x'): Op => ({
  key,
  input: { op: 'put', value },
  output: ret === Infinity ? undefined : true,
  call,
  ret,
});
const get = (value: string | null, call: number, ret: number, key = 'x'): Op => ({
  key,
  input: { op: 'get' },
  output: value,
  call,
  ret,
});
const cas = (
  expect: string | null,
  value: string,
  ok: boolean | undefined,
  call: number,
  ret: number,
  key = 'x',
): Op => ({ key, input: { op: 'cas', expect, value }, output: ok, call, ret });

const check = (h: Op[]) => checkLinearizability(registerModel, h);

describe('linearizability checker: known-good histories', () => {
  it('accepts sequential reads of the latest write', () => {
    expect(check([put('a', 0, 1), get('a', 2, 3), put('b', 4, 5), get('b', 6, 7)])).toEqual({ ok: true });
  });

  it('accepts either order for concurrent writes', () => {
    expect(check([put('a', 0, 10), put('b', 1, 9), get('a', 11, 12)])).toEqual({ ok: true });
    expect(check([put('a', 0, 10), put('b', 1, 9), get('b', 11, 12)])).toEqual({ ok: true });
  });

  it('accepts a read concurrent with a write seeing old or new', () => {
    expect(check([put('a', 0, 1), put('b', 2, 10), get('a', 3, 4), get('b', 5, 6)])).toEqual({ ok: true });
  });

  it('accepts an unknown-outcome write that happened, or that did not', () => {
    expect(check([put('a', 0, 1), put('b', 2, Infinity), get('b', 5, 6)])).toEqual({ ok: true });
    expect(check([put('a', 0, 1), put('b', 2, Infinity), get('a', 5, 6)])).toEqual({ ok: true });
  });

  it('accepts compare-and-set chains and keys independently', () => {
    expect(
      check([
        cas(null, 'a', true, 0, 1),
        cas('a', 'b', true, 2, 3),
        cas('a', 'c', false, 4, 5),
        get('b', 6, 7),
        get(null, 0, 9, 'y'),
      ]),
    ).toEqual({ ok: true });
  });
});

describe('linearizability checker: known-bad histories', () => {
  it('rejects a stale read after a completed write', () => {
    expect(check([put('a', 0, 1), put('b', 2, 3), get('a', 4, 5)])).toMatchObject({ ok: false, key: 'x' });
  });

  it('rejects reads that go back in time', () => {
    expect(check([put('a', 0, 1), put('b', 2, 20), get('b', 3, 4), get('a', 5, 6)])).toMatchObject({ ok: false });
  });

  it('rejects a value nobody wrote', () => {
    expect(check([put('a', 0, 1), get('zzz', 2, 3)])).toMatchObject({ ok: false });
  });

  it('rejects two successful compare-and-sets from the same expected value', () => {
    expect(check([put('a', 0, 1), cas('a', 'b', true, 2, 10), cas('a', 'c', true, 3, 9)])).toMatchObject({ ok: false });
  });

  it('rejects an unknown write observed before it was called', () => {
    expect(check([get('b', 0, 1), put('b', 2, Infinity)])).toMatchObject({ ok: false });
  });

  it('finds the one bad key among good ones', () => {
    const good = [put('1', 0, 1, 'k1'), get('1', 2, 3, 'k1')];
    const bad = [put('1', 0, 1, 'k2'), put('2', 2, 3, 'k2'), get('1', 4, 5, 'k2')];
    expect(check([...good, ...bad])).toMatchObject({ ok: false, key: 'k2' });
  });

  it('reports unknown instead of guessing when the budget runs out', () => {
    const many: Op[] = [];
    for (let i = 0; i < 40; i++) many.push(put(`v${i}`, 0, 100));
    many.push(get('nope', 101, 102));
    expect(checkLinearizability(registerModel, many, 1000)).toMatchObject({ ok: 'unknown' });
  });
});

describe('shortestFailingPrefix', () => {
  it('cuts a failing history at the first return after which no linearization exists', () => {
    // Good for a while, then a stale read (at 41..42), then more good operations.
    const h: Op[] = [];
    for (let i = 0; i < 10; i++) h.push(put(`v${i}`, 4 * i, 4 * i + 1), get(`v${i}`, 4 * i + 2, 4 * i + 3));
    h.push(get('v3', 41, 42));
    for (let i = 11; i < 20; i++) h.push(put(`v${i}`, 4 * i, 4 * i + 1));
    const found = shortestFailingPrefix(registerModel, h);
    expect(found?.until).toBe(42);
    expect(found?.ops).toHaveLength(21);
    expect(checkLinearizability(registerModel, found?.ops ?? [])).toMatchObject({ ok: false });
  });

  it('counts operations still running at the cut as of unknown outcome, and finds nothing in a good history', () => {
    // The write of b runs past the read's return: at the cut it may or may not have happened.
    const h = [put('a', 0, 1), put('b', 2, 50), get('c', 3, 4), get('b', 5, 6)];
    const found = shortestFailingPrefix(registerModel, h);
    expect(found?.until).toBe(4);
    expect(found?.ops.find((o) => o.input.op === 'put' && o.input.value === 'b')).toMatchObject({
      output: undefined,
      ret: Infinity,
    });
    expect(shortestFailingPrefix(registerModel, [put('a', 0, 1), get('a', 2, 3)])).toBeUndefined();
  });
});
