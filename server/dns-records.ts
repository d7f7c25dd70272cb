/**
 * Wire encoding of the records a service answer is made of (A, AAAA and SRV with plain names),
 * byte for byte what dns-packet's record encoder writes for them, for the DNS server's cache of
 * encoded candidates: that cache is rebuilt for every service a query asks about after the service
 * changed, so after a burst of registrations every service's first queries pay for it. Owner names
 * are encoded once per batch, and each record goes straight into one buffer. Records of other
 * types, or with names of other bytes than letters, digits, '-' and '_', are encoded by dns-packet.
 */
import * as dnsPacket from 'dns-packet';
import type { DnsRecord } from '../core/dns/resolver.js';
import { parseIp } from '../core/dns/addr.js';

/**
 * `r` in wire form by dns-packet: the bytes its encoder writes (its encodingLength counts one
 * byte too many for a root owner name, which a message encoder does not write either).
 */
export function encodeRecord(r: DnsRecord): Buffer {
  const out = recordEncoder.encode(toWire(r));
  return out.subarray(0, recordEncoder.encode.bytes);
}

/** A resolver record as dns-packet encodes it (owner name without the final dot, class IN). */
export function toWire(r: DnsRecord): dnsPacket.Answer {
  return { type: r.type, name: r.name.replace(/\.$/, ''), ttl: r.ttl, class: 'IN', data: r.data } as dnsPacket.Answer;
}

/** dns-packet's encoder of one record, which its type declarations leave out. */
export const recordEncoder = (
  dnsPacket as unknown as {
    answer: {
      encode: ((record: dnsPacket.Answer, buf?: Buffer, offset?: number) => Buffer) & { bytes: number };
      encodingLength(record: dnsPacket.Answer): number;
    };
  }
).answer;

/** Bytes a label may hold here: letters, digits, '-' and '_'. */
const PLAIN = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_') PLAIN[c.charCodeAt(0)] = 1;

const TYPE_A = 1;
const TYPE_AAAA = 28;
const TYPE_SRV = 33;
const CLASS_IN = 1;

/**
 * `name` in wire form as dns-packet's name.encode writes it (one leading and one trailing dot
 * dropped, then each label with its length, then the root's zero), when every label holds 1 to 63
 * plain bytes (or the name is the root); undefined otherwise.
 */
export function plainName(name: string): Uint8Array | undefined {
  const from = name.startsWith('.') ? 1 : 0;
  const to = name.endsWith('.') && name.length > from ? name.length - 1 : name.length;
  const out = new Uint8Array(to - from + (to > from ? 2 : 1));
  let at = 0;
  let labelStart = from;
  for (let i = from; i <= to && to > from; i++) {
    if (i < to && name.charCodeAt(i) !== 0x2e) {
      if (PLAIN[name.charCodeAt(i)] !== 1) return undefined;
      continue;
    }
    const len = i - labelStart;
    if (len === 0 || len > 63) return undefined;
    out[at++] = len;
    for (let k = labelStart; k < i; k++) out[at++] = name.charCodeAt(k);
    labelStart = i + 1;
  }
  out[at++] = 0;
  return at === out.length ? out : undefined;
}

/** Encodes records into one buffer, each owner and target name encoded once. */
export class RecordWriter {
  private readonly names = new Map<string, Uint8Array | null>();

  /**
   * The record's encoded length and what writing it needs; a record it cannot write itself is
   * encoded by dns-packet here.
   */
  plan(r: DnsRecord): PlannedRecord {
    const owner = this.name(r.name);
    if (owner) {
      if (r.type === 'A' || r.type === 'AAAA') {
        const ip = typeof r.data === 'string' ? parseIp(r.data) : undefined;
        if (ip && (ip.family === 4) === (r.type === 'A'))
          return {
            r,
            owner,
            rdata: ip.bytes,
            target: undefined,
            encoded: undefined,
            length: owner.length + 10 + ip.bytes.length,
          };
      } else if (r.type === 'SRV') {
        const d = r.data as { priority: number; weight: number; port: number; target: string };
        const target = this.name(d.target);
        if (target)
          return { r, owner, rdata: undefined, target, encoded: undefined, length: owner.length + 16 + target.length };
      }
    }
    const encoded = encodeRecord(r);
    return { r, owner: undefined, rdata: undefined, target: undefined, encoded, length: encoded.length };
  }

  /** Writes a planned record into `buf` at `at`; returns where it ends. */
  write(p: PlannedRecord, buf: Buffer, at: number): number {
    const { r, owner } = p;
    if (!owner) {
      buf.set(p.encoded as Buffer, at);
      return at + p.length;
    }
    buf.set(owner, at);
    at += owner.length;
    buf.writeUInt16BE(r.type === 'A' ? TYPE_A : r.type === 'AAAA' ? TYPE_AAAA : TYPE_SRV, at);
    buf.writeUInt16BE(CLASS_IN, at + 2);
    buf.writeUInt32BE(r.ttl || 0, at + 4);
    at += 8;
    if (p.rdata) {
      buf.writeUInt16BE(p.rdata.length, at);
      at += 2;
      for (const b of p.rdata) buf[at++] = b;
      return at;
    }
    const d = r.data as { priority: number; weight: number; port: number };
    const target = p.target as Uint8Array;
    buf.writeUInt16BE(6 + target.length, at);
    buf.writeUInt16BE(d.priority || 0, at + 2);
    buf.writeUInt16BE(d.weight || 0, at + 4);
    buf.writeUInt16BE(d.port || 0, at + 6);
    buf.set(target, at + 8);
    return at + 8 + target.length;
  }

  private name(name: string): Uint8Array | undefined {
    let bytes = this.names.get(name);
    if (bytes === undefined) this.names.set(name, (bytes = plainName(name) ?? null));
    return bytes ?? undefined;
  }
}

/** A record with what `RecordWriter.write` needs (see `RecordWriter.plan`). */
export interface PlannedRecord {
  readonly r: DnsRecord;
  /** The owner name's wire form; undefined when dns-packet writes the record. */
  readonly owner: Uint8Array | undefined;
  /** A/AAAA: the address bytes. */
  readonly rdata: readonly number[] | undefined;
  /** SRV: the target's wire form. */
  readonly target: Uint8Array | undefined;
  /** Any other record, encoded by dns-packet (`encodeRecord`). */
  readonly encoded: Buffer | undefined;
  /** Bytes the record takes. */
  readonly length: number;
}
