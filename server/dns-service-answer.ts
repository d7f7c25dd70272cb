/**
 * The fast path of the DNS server for what a discovery load asks most: A, AAAA and SRV questions
 * about `<name>.service.<domain>`. The records of a service's instances are encoded to wire bytes
 * once per change of the service (kept through `pickServiceAnswer`, core/dns/service-candidates.ts),
 * so a query only reads its own header and question, shuffles the kept candidates and copies the
 * bytes of those that fit into one buffer. The answer is byte for byte the one `answerQuery`'s
 * general path (dns-packet decode, `resolve`, dns-packet encode) gives with the rng in the same
 * state, NXDOMAIN and empty answers included; queries with anything unusual, names that are no
 * service question, and SRV targets inside the domain (whose records come from other lookups) are
 * left to that path.
 */
import * as dnsPacket from 'dns-packet';
import { type DnsOptions, type DnsRecord, soaRecord } from '../core/dns/resolver.js';
import {
  type CandidateKeeper,
  type CandidateTable,
  type CandidateType,
  pickServiceAnswer,
} from '../core/dns/service-candidates.js';
import type { StateStore } from '../core/ports/state-store.js';
import { encodeRecord, type PlannedRecord, RecordWriter, recordEncoder } from './dns-records.js';

/** Largest UDP answer without EDNS (RFC 1035); with EDNS the client's size, capped at UDP_MAX. */
const UDP_DEFAULT = 512;
/** Largest UDP answer sent, whatever size the client offers; also the size our OPT record offers. */
export const UDP_MAX = 4096;
/** Largest DNS message over TCP (its length prefix is 16 bits). */
const TCP_MAX = 65535;

/**
 * The largest response for a query: over TCP 65535 bytes, over UDP the size the query's OPT
 * record offers (`udpPayloadSize`, undefined without EDNS) within 512..UDP_MAX.
 */
export function responseSizeLimit(udp: boolean, udpPayloadSize: number | undefined): number {
  return udp ? Math.min(UDP_MAX, Math.max(UDP_DEFAULT, udpPayloadSize ?? UDP_DEFAULT)) : TCP_MAX;
}

/** The OPT record every answer to an EDNS query carries. */
const OPT_RECORD: Buffer = recordEncoder.encode({
  type: 'OPT',
  name: '.',
  udpPayloadSize: UDP_MAX,
} as dnsPacket.Answer);

const TYPES: ReadonlyMap<number, CandidateType> = new Map([
  [1, 'A'],
  [28, 'AAAA'],
  [33, 'SRV'],
]);
const CLASS_IN = 1;
const TYPE_OPT = 41;
/** EDNS options dns-packet reads into fields (ECS, edns-tcp-keepalive, key tag): left to it. */
const PARSED_OPTIONS = new Set([8, 11, 14]);
/** Bytes a label may hold on the fast path: letters, digits, '-' and '_' (they decode as themselves). */
const LABEL_BYTE = new Uint8Array(256);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_') LABEL_BYTE[c.charCodeAt(0)] = 1;

/** A query the fast path takes, read from its bytes. */
interface SimpleQuery {
  readonly id: number;
  /** The query's RD bit, echoed. */
  readonly rd: number;
  /** The question name as dns-packet decodes it (labels joined by dots, case kept). */
  readonly qname: string;
  readonly qtype: CandidateType;
  /** Where the question ends: bytes 12..questionEnd are echoed as they came. */
  readonly questionEnd: number;
  /** The OPT record's payload size, or undefined when the query has no OPT record. */
  readonly udpPayloadSize: number | undefined;
}

/**
 * Reads a query of the plain shape: QR 0, opcode QUERY, one question of class IN and type A, AAAA
 * or SRV whose name has no compression pointer and only letters, digits, '-' and '_' in its
 * labels, no answer or authority records, and at most one additional record — an OPT record named
 * root whose options dns-packet does not parse into fields — ending exactly at the end of the
 * message. For such a query dns-packet's decode cannot fail and re-encodes the question to the same
 * bytes. Undefined for anything else.
 */
function readSimpleQuery(query: Buffer): SimpleQuery | undefined {
  if (query.length < 12) return undefined;
  const flags = query.readUInt16BE(2);
  if ((flags & 0xf800) !== 0) return undefined;
  if (query.readUInt16BE(4) !== 1 || query.readUInt16BE(6) !== 0 || query.readUInt16BE(8) !== 0) return undefined;
  const additionals = query.readUInt16BE(10);
  if (additionals > 1) return undefined;
  let at = 12;
  const labels: string[] = [];
  for (;;) {
    const len = query[at];
    if (len === undefined || len > 63) return undefined;
    at++;
    if (len === 0) break;
    if (at + len > query.length) return undefined;
    for (let i = at; i < at + len; i++) if (LABEL_BYTE[query[i] as number] !== 1) return undefined;
    labels.push(query.toString('latin1', at, at + len));
    at += len;
  }
  // dns-packet refuses names over 254 bytes of labels (with their length bytes).
  if (labels.length === 0 || at - 13 > 254 || at + 4 > query.length) return undefined;
  const qtype = TYPES.get(query.readUInt16BE(at));
  if (!qtype || query.readUInt16BE(at + 2) !== CLASS_IN) return undefined;
  const questionEnd = at + 4;
  if (additionals === 0)
    return questionEnd === query.length
      ? {
          id: query.readUInt16BE(0),
          rd: flags & dnsPacket.RECURSION_DESIRED,
          qname: labels.join('.'),
          qtype,
          questionEnd,
          udpPayloadSize: undefined,
        }
      : undefined;
  // OPT: root name (1), type (2), payload size (2), extended rcode and flags (4), rdata length (2).
  at = questionEnd;
  if (at + 11 > query.length || query[at] !== 0 || query.readUInt16BE(at + 1) !== TYPE_OPT) return undefined;
  const udpPayloadSize = query.readUInt16BE(at + 3);
  const rdataEnd = at + 11 + query.readUInt16BE(at + 9);
  if (rdataEnd !== query.length) return undefined;
  for (at += 11; at < rdataEnd;) {
    if (at + 4 > rdataEnd || PARSED_OPTIONS.has(query.readUInt16BE(at))) return undefined;
    at += 4 + query.readUInt16BE(at + 2);
  }
  if (at !== rdataEnd) return undefined;
  return {
    id: query.readUInt16BE(0),
    rd: flags & dnsPacket.RECURSION_DESIRED,
    qname: labels.join('.'),
    qtype,
    questionEnd,
    udpPayloadSize,
  };
}

/**
 * A question's candidates (`table`) with their records encoded, all in one buffer: instance i's
 * answer record at `start[i]..answerEnd[i]` (empty when it has none), then its `extras[i]`
 * additional records up to `end[i]`.
 */
interface WireCandidates {
  readonly table: CandidateTable;
  readonly bytes: Buffer;
  /** A view of `bytes`, for `copyBytes`. */
  readonly view: DataView;
  readonly start: Int32Array;
  readonly answerEnd: Int32Array;
  readonly end: Int32Array;
  readonly extras: Int32Array;
}

/**
 * Copies bytes `start..end` of `from` into `to` at `at`, four at a time, and returns where the
 * copy ends in `to`. For records of tens of bytes this is several times faster than Buffer.copy,
 * which makes a typed-array view on every call.
 */
function copyBytes(from: DataView, start: number, end: number, to: DataView, at: number): number {
  let i = start;
  for (; i + 4 <= end; i += 4, at += 4) to.setUint32(at, from.getUint32(i));
  for (; i < end; i++, at++) to.setUint8(at, from.getUint8(i));
  return at;
}

/** Encodes every candidate's records once (`RecordWriter`) into one buffer. */
const wireKeeper: CandidateKeeper<WireCandidates> = {
  name: 'dns-wire',
  prepare({ table, records }) {
    const writer = new RecordWriter();
    const planned: PlannedRecord[] = [];
    const start = new Int32Array(table.size);
    const answerEnd = new Int32Array(table.size);
    const end = new Int32Array(table.size);
    const extras = new Int32Array(table.size);
    let at = 0;
    const plan = (record: DnsRecord): void => {
      const p = writer.plan(record);
      planned.push(p);
      at += p.length;
    };
    records.forEach((r, i) => {
      start[i] = at;
      if (r.answer) plan(r.answer);
      answerEnd[i] = at;
      for (const extra of r.extra) plan(extra);
      end[i] = at;
      extras[i] = r.extra.length;
    });
    const bytes = Buffer.allocUnsafe(at);
    let written = 0;
    for (const p of planned) written = writer.write(p, bytes, written);
    // Invariant: the plans' lengths are what was written.
    if (written !== at) throw new Error(`DNS records wrote ${written} of ${at} bytes`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    return { table, bytes, view, start, answerEnd, end, extras };
  },
};

/** The SOA record's bytes for the last domain asked about (one entry: a server has one domain). */
let soaBytes: { readonly domain: string; readonly bytes: Buffer } | undefined;

function encodedSoa(options: DnsOptions): Buffer {
  if (soaBytes?.domain !== options.domain)
    soaBytes = { domain: options.domain, bytes: encodeRecord(soaRecord(options)) };
  return soaBytes.bytes;
}

/** Header flags of an answer: QR, AA, the query's RD, TC when `truncated`, and `rcode`. */
const answerFlags = (rd: number, truncated: boolean, rcode: number): number =>
  0x8000 | dnsPacket.AUTHORITATIVE_ANSWER | rd | (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) | rcode;

const RCODE_NXDOMAIN = 3;

/**
 * Answers `query` on the fast path, or returns undefined when the general path must (the query is
 * not of the plain shape `readSimpleQuery` takes, or `pickServiceAnswer` leaves it to `resolve`).
 * The answer has AA and the query's RD, the question as it came and an OPT record when the query
 * had one. With records (NOERROR): as many of the picked ones as fit `responseSizeLimit`, each
 * answer with its additional records, TC set when some are left out. Without (NXDOMAIN, or
 * NOERROR without records): the domain's SOA record in the authority section (left out, with TC,
 * if it does not fit). One buffer per answer; the catalog is read in one `store.read`.
 */
export function answerServiceQuery(
  query: Buffer,
  store: StateStore,
  options: DnsOptions,
  udp: boolean,
): Buffer | undefined {
  const q = readSimpleQuery(query);
  if (!q) return undefined;
  const found = store.read((tx) => pickServiceAnswer(tx, q.qname, q.qtype, options, wireKeeper));
  if (!found) return undefined;
  const limit = responseSizeLimit(udp, q.udpPayloadSize);
  const opt = q.udpPayloadSize === undefined ? 0 : OPT_RECORD.length;
  const kept = found.rcode === 'NOERROR' ? found.kept : undefined;
  const picked = found.rcode === 'NOERROR' ? found.picked : [];
  let size = q.questionEnd + opt;
  let fit = 0;
  let extras = 0;
  // The longest prefix of the answers that fits, each with its additional records.
  if (kept)
    for (const i of picked) {
      const bytes = (kept.end[i] as number) - (kept.start[i] as number);
      if (size + bytes > limit) break;
      size += bytes;
      extras += kept.extras[i] as number;
      fit++;
    }
  let truncated = fit < picked.length;
  let soa: Buffer | undefined;
  if (picked.length === 0) {
    soa = encodedSoa(options);
    if (size + soa.length <= limit) size += soa.length;
    else [soa, truncated] = [undefined, true];
  }
  const out = Buffer.allocUnsafe(size);
  out.writeUInt16BE(q.id, 0);
  out.writeUInt16BE(answerFlags(q.rd, truncated, found.rcode === 'NXDOMAIN' ? RCODE_NXDOMAIN : 0), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(fit, 6);
  out.writeUInt16BE(soa ? 1 : 0, 8);
  out.writeUInt16BE(extras + (opt > 0 ? 1 : 0), 10);
  let at = query.copy(out, 12, 12, q.questionEnd) + 12;
  if (kept) {
    const to = new DataView(out.buffer, out.byteOffset, out.length);
    for (let k = 0; k < fit; k++) {
      const i = picked[k] as number;
      at = copyBytes(kept.view, kept.start[i] as number, kept.answerEnd[i] as number, to, at);
    }
    for (let k = 0; k < fit; k++) {
      const i = picked[k] as number;
      at = copyBytes(kept.view, kept.answerEnd[i] as number, kept.end[i] as number, to, at);
    }
  }
  if (soa) at += soa.copy(out, at);
  if (opt > 0) at += OPT_RECORD.copy(out, at);
  // Invariant: the buffer is filled exactly.
  if (at !== size) throw new Error(`DNS answer assembled ${at} of ${size} bytes`);
  return out;
}
