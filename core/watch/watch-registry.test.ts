import { describe, expect, it } from 'vitest';
import { OverloadedError } from '../errors.js';
import { WatchRegistry } from './watch-registry.js';

describe('WatchRegistry', () => {
  it('fires exact-key watchers only for their key, once', () => {
    const r = new WatchRegistry(10);
    const fired: string[] = [];
    r.watch({ table: 'kv', key: 'a' }, () => fired.push('a'));
    r.watch({ table: 'kv', key: 'ab' }, () => fired.push('ab'));
    r.watch({ table: 'other', key: 'a' }, () => fired.push('other'));
    r.notify([{ table: 'kv', key: 'a' }]);
    r.notify([{ table: 'kv', key: 'a' }]);
    expect(fired).toEqual(['a']);
    expect(r.size).toBe(2);
  });

  it('fires prefix watchers for keys under the prefix and for overlapping tree deletes', () => {
    const r = new WatchRegistry(10);
    const fired: string[] = [];
    r.watch({ table: 'kv', prefix: 'web/' }, () => fired.push('web/'));
    r.watch({ table: 'kv', prefix: '' }, () => fired.push('all'));
    r.watch({ table: 'kv', prefix: 'db/' }, () => fired.push('db/'));
    r.watch({ table: 'kv', key: 'db/x' }, () => fired.push('db/x'));
    r.notify([{ table: 'kv', key: 'web/1' }]);
    expect(fired.sort()).toEqual(['all', 'web/']);
    r.notify([{ table: 'kv', prefix: 'd' }]);
    expect(fired.sort()).toEqual(['all', 'db/', 'db/x', 'web/']);
    expect(r.size).toBe(0);
  });

  it('cancel unregisters, and is idempotent', () => {
    const r = new WatchRegistry(10);
    let n = 0;
    const cancel = r.watch({ table: 'kv', key: 'a' }, () => n++);
    cancel();
    cancel();
    r.notify([{ table: 'kv', key: 'a' }]);
    expect(n).toBe(0);
    expect(r.size).toBe(0);
  });

  it('is bounded', () => {
    const r = new WatchRegistry(2);
    r.watch({ table: 'kv', key: 'a' }, () => {});
    r.watch({ table: 'kv', prefix: 'a' }, () => {});
    expect(() => r.watch({ table: 'kv', key: 'b' }, () => {})).toThrow(OverloadedError);
    r.wakeAll();
    expect(r.size).toBe(0);
    r.watch({ table: 'kv', key: 'b' }, () => {});
  });
});
