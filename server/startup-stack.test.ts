import { describe, expect, it } from 'vitest';
import { createLogger } from '../core/log/logger.js';
import { ManualClock } from '../testing/manual-clock.js';
import { StartupStack } from './startup-stack.js';

describe('StartupStack', () => {
  it('closes what was started in reverse order, once', async () => {
    const closed: string[] = [];
    const stack = new StartupStack();
    stack.push('listener', () => void closed.push('listener'));
    stack.push('lock', async () => {
      await Promise.resolve();
      closed.push('lock');
    });
    stack.push('store', () => void closed.push('store'));
    expect(stack.names()).toEqual(['listener', 'lock', 'store']);
    await stack.unwind();
    expect(closed).toEqual(['store', 'lock', 'listener']);
    await stack.unwind();
    expect(closed).toEqual(['store', 'lock', 'listener']);
    expect(stack.names()).toEqual([]);
  });

  it('keeps closing the others when one part fails to close, and logs that part', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      format: 'json',
      clock: new ManualClock(),
      write: (l) => lines.push(l),
    });
    const closed: string[] = [];
    const stack = new StartupStack(logger);
    stack.push('first', () => void closed.push('first'));
    stack.push('broken', () => {
      throw new Error('socket already gone');
    });
    stack.push('last', () => void closed.push('last'));
    await expect(stack.unwind()).resolves.toBeUndefined();
    expect(closed).toEqual(['last', 'first']);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ part: 'broken', error: 'socket already gone' });
  });
});
