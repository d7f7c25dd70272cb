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
  /** Text received after the last completed event, in the pieces it came in (joined once, when the event completes). */
  private pieces: string[] = [];
  private pendingChars = 0;
  /** Whether the pending text ends with '\n' (a blank line may then begin in it and end in the next piece). */
  private pendingEndsWithNewline = false;

  constructor(private readonly maxEventChars = 16 * 1024 * 1024) {}

  /**
   * Adds text; returns every event it completed. Only the new text is searched for the blank line
   * that ends an event, and the pending text is joined once per event, so a large event (a
   * snapshot chunk of hundreds of KB, arriving in many pieces) is copied a bounded number of times.
   */
  push(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    let rest = text;
    for (;;) {
      const lead = this.pendingEndsWithNewline ? 1 : 0;
      const at = (lead ? `\n${rest}` : rest).indexOf('\n\n');
      if (at < 0) break;
      // Where the blank line starts in `rest` (-1: on the pending text's last '\n').
      const cut = at - lead;
      const pending = this.pieces.join('');
      const block = cut < 0 ? pending.slice(0, -1) : pending + rest.slice(0, cut);
      rest = rest.slice(cut + 2);
      this.pieces = [];
      this.pendingChars = 0;
      this.pendingEndsWithNewline = false;
      const event = parseBlock(block);
      if (event) out.push(event);
    }
    if (rest.length > 0) {
      this.pieces.push(rest);
      this.pendingChars += rest.length;
      this.pendingEndsWithNewline = rest.endsWith('\n');
    }
    if (this.pendingChars > this.maxEventChars)
      throw new RangeError(`server-sent event longer than ${this.maxEventChars} characters`);
    return out;
  }
}

/** One event's lines (without the blank line that ended it); undefined when it has no data. */
function parseBlock(block: string): SseEvent | undefined {
  let event = 'message';
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const raw = colon < 0 ? '' : line.slice(colon + 1);
    const value = raw.startsWith(' ') ? raw.slice(1) : raw;
    if (field === 'event') event = value;
    else if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
  }
  return data.length > 0 ? { event, id, data: data.join('\n') } : undefined;
}
