import fc from 'fast-check';

/** Range options (prefix, start, end, limit up to `maxLimit`; each may be absent) over keys from `key`. */
export function rangeOptions(
  key: fc.Arbitrary<string>,
  maxLimit: number,
): fc.Arbitrary<{ prefix?: string; start?: string; end?: string; limit?: number }> {
  return fc.record(
    {
      prefix: fc.option(key, { nil: undefined }),
      start: fc.option(key, { nil: undefined }),
      end: fc.option(key, { nil: undefined }),
      limit: fc.option(fc.nat(maxLimit), { nil: undefined }),
    },
    { requiredKeys: [] },
  );
}
