import { describe, expect, it } from 'vitest';
import { parseReplicatedPrefix, replicationOps, statusKey } from './replicate.js';

describe('konsul replicate', () => {
  it('reads -prefix as consul-replicate does: <source>@<datacenter>[:<destination>]', () => {
    expect(parseReplicatedPrefix('global/@dc1')).toEqual({
      source: 'global/',
      datacenter: 'dc1',
      destination: 'global/',
    });
    expect(parseReplicatedPrefix('/global/@dc1:backup/')).toEqual({
      source: 'global/',
      datacenter: 'dc1',
      destination: 'backup/',
    });
    expect(() => parseReplicatedPrefix('global/')).toThrow(/want <source>@<datacenter>/);
    expect(() => parseReplicatedPrefix('global/@DC 1')).toThrow(/is not a datacenter name/);
    expect(statusKey(parseReplicatedPrefix('a@dc1'))).not.toBe(statusKey(parseReplicatedPrefix('a@dc2')));
  });

  it('sets what is missing or differs (value or flags) under the destination and deletes what the source lacks', () => {
    const p = parseReplicatedPrefix('src/@dc1:dst/');
    const e = (Key: string, Value: string | null, Flags = 0) => ({ Key, Value, Flags });
    const ops = replicationOps(
      p,
      [e('src/same', 'YQ=='), e('src/new', 'Yg=='), e('src/flags', 'Yw==', 7), e('src/empty', null)],
      [e('dst/same', 'YQ=='), e('dst/flags', 'Yw==', 0), e('dst/gone', 'eA=='), e('dst/empty', null)],
    );
    expect(ops).toEqual([
      { KV: { Verb: 'set', Key: 'dst/new', Value: 'Yg==', Flags: 0 } },
      { KV: { Verb: 'set', Key: 'dst/flags', Value: 'Yw==', Flags: 7 } },
      { KV: { Verb: 'delete', Key: 'dst/gone' } },
    ]);
    expect(replicationOps(p, [], [])).toEqual([]);
  });
});
