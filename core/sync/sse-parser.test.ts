import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type SseEvent, SseParser } from './sse-parser.js';

/** The reference: the whole text at once, split on blank lines. */
function reference(text: string): SseEvent[] {
  const blocks = text.split('\n\n');
  blocks.pop(); // the unfinished tail
  const out: SseEvent[] = [];
  for (const block of blocks) {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) out.push({ event, id, data: data.join('\n') });
  }
  return out;
}

describe('SseParser', () => {
  it('yields the events of a stream however it is split into pieces (differential, fast-check)', () => {
    const line = fc.oneof(
      fc.constantFrom('event: chunk', 'event:batch', 'id: 7', ': comment', 'retry: 2000', 'data', 'data: '),
      fc.stringMatching(/^data: ?[A-Za-z0-9+/=]{0,40}$/),
    );
    const stream = fc.array(fc.oneof(line, fc.constant('')), { maxLength: 40 }).map((ls) => ls.join('\n') + '\n');
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 10 }), (text, cuts) => {
        const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const parser = new SseParser();
        const got: SseEvent[] = [];
        let from = 0;
        for (const c of [...at, text.length]) {
          got.push(...parser.push(text.slice(from, c)));
          from = c;
        }
        expect(got).toEqual(reference(text));
      }),
      { numRuns: 500 },
    );
  });

  it('finds a blank line split across two pieces, one newline in each', () => {
    const parser = new SseParser();
    expect(parser.push('event: chunk\ndata: QUJD\n')).toEqual([]);
    expect(parser.push('\ndata: x\n\n')).toEqual([
      { event: 'chunk', id: undefined, data: 'QUJD' },
      { event: 'message', id: undefined, data: 'x' },
    ]);
  });

  it('refuses an event longer than its bound, counting every piece', () => {
    const parser = new SseParser(10);
    expect(parser.push('data: 1234')).toEqual([]);
    expect(() => parser.push('5678')).toThrow(RangeError);
  });
});
