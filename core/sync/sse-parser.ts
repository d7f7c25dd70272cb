/** One Server-Sent Event as received (`event` defaults to "message"). */
export interface SseEvent {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: string;
}

/**
 * An incremental Server-Sent Events parser (the subset servers here send: `event`, `id`, `data`,
 * comments and `retry`, LF line ends). Feed it decoded text as it arrives; it returns the events
 * completed so far. Bounded: an event longer than `maxEventChars` throws RangeError.
 */
export class SseParser {
  private buffer = '';

  constructor(private readonly maxEventChars = 16 * 1024 * 1024) {}

  /** Adds text; returns every event it completed. */
  push(text: string): SseEvent[] {
    this.buffer += text;
    const out: SseEvent[] = [];
    for (let at = this.buffer.indexOf('\n\n'); at >= 0; at = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + 2);
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
    if (this.buffer.length > this.maxEventChars)
      throw new RangeError(`server-sent event longer than ${this.maxEventChars} characters`);
    return out;
  }
}
