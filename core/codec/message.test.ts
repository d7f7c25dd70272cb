import { describe, expect, it } from 'vitest';
import { CorruptFrameError, FRAME_KIND } from '../hotpaths/frame.js';
import { createTsHotPaths } from '../hotpaths/ts-hot-paths.js';
import type { Entry, Message } from '../raft/types.js';
import { decodeEntriesFrame, EntriesFrameCache, encodeEntriesFrame } from './entries.js';
import { encodeMessageFrame, encodeMessageFrames, MessageFrameReader } from './message.js';

const hp = createTsHotPaths();
const entry = (index: number, text = `v${index}`): Entry => ({
  term: 3,
  index,
  type: 'normal',
  data: new TextEncoder().encode(text),
});
const app = (to: string, entries: Entry[]): Message => ({
  type: 'app',
  from: 'k1',
  to,
  term: 3,
  index: (entries[0]?.index ?? 1) - 1,
  logTerm: 3,
  commit: 4,
  entries,
});

describe('entries frames shared by the log and the transport', () => {
  it('encodes a batch once: every follower gets, and the log writes, the same bytes', () => {
    const cache = new EntriesFrameCache(hp);
    const batch = [entry(5), entry(6), entry(7)];
    const toK2 = encodeMessageFrames(hp, app('k2', batch), cache);
    const toK3 = encodeMessageFrames(hp, app('k3', [...batch]), cache);
    expect(toK2).toHaveLength(2);
    expect(toK2[1]).toBe(toK3[1]);
    expect(cache.frameFor(batch)).toBe(toK2[1]);
    expect(toK2[1]).toEqual(encodeEntriesFrame(hp, batch));
    // Another batch (a different run of the log, or the same run cut shorter) is encoded anew.
    expect(cache.frameFor(batch.slice(0, 2))).not.toBe(toK2[1]);
    expect(decodeEntriesFrame(hp, cache.frameFor(batch.slice(0, 2))).entries.map((e) => e.index)).toEqual([5, 6]);
  });

  it('keeps at most its capacity of frames, newest first', () => {
    const cache = new EntriesFrameCache(hp, 2);
    const batches = [[entry(1)], [entry(2)], [entry(3)]];
    const frames = batches.map((b) => cache.frameFor(b));
    expect(cache.frameFor(batches[2] as Entry[])).toBe(frames[2]);
    expect(cache.frameFor(batches[1] as Entry[])).toBe(frames[1]);
    // The oldest left: an equal frame, but a new one.
    const again = cache.frameFor(batches[0] as Entry[]);
    expect(again).not.toBe(frames[0]);
    expect(again).toEqual(frames[0]);
  });

  it('a receiver puts message and entries back together and keeps the frame for its own log', () => {
    const sender = new EntriesFrameCache(hp);
    const received = new EntriesFrameCache(hp);
    const reader = new MessageFrameReader(hp, received);
    const heartbeat: Message = { type: 'heartbeat', from: 'k1', to: 'k2', term: 3, commit: 4 };
    const out: Message[] = [];
    for (const m of [heartbeat, app('k2', [entry(5), entry(6)]), app('k2', []), heartbeat])
      for (const f of encodeMessageFrames(hp, m, sender)) {
        const got = reader.push(f[0] as number, f);
        if (got) out.push(got);
      }
    expect(out.map((m) => [m.type, m.entries?.map((e) => e.index)])).toEqual([
      ['heartbeat', undefined],
      ['app', [5, 6]],
      ['app', []],
      ['heartbeat', undefined],
    ]);
    const entries = out[1]?.entries as Entry[];
    expect(new TextDecoder().decode(entries[1]?.data)).toBe('v6');
    // The follower's log write of what it received is the received frame itself.
    expect(received.frameFor(entries)).toEqual(sender.frameFor([entry(5), entry(6)]));
    expect(received.frameFor(entries)).toBe(received.frameFor(entries));
  });

  it('refuses frames out of place', () => {
    const sender = new EntriesFrameCache(hp);
    const [head, body] = encodeMessageFrames(hp, app('k2', [entry(5)]), sender) as [Uint8Array, Uint8Array];
    // An entries frame nobody announced.
    expect(() => new MessageFrameReader(hp, sender).push(FRAME_KIND.entries, body)).toThrow(CorruptFrameError);
    // A message announcing entries, followed by another message.
    const reader = new MessageFrameReader(hp, sender);
    expect(reader.push(FRAME_KIND.message, head)).toBeUndefined();
    const next = encodeMessageFrame(hp, { type: 'heartbeat', from: 'k1', to: 'k2', term: 3 });
    expect(() => reader.push(FRAME_KIND.message, next)).toThrow(/expected an entries frame/);
    // A frame of another kind.
    expect(() => new MessageFrameReader(hp, sender).push(7, head)).toThrow(/unexpected frame kind 7/);
  });
});
