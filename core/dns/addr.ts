/**
 * IP addresses and names as the DNS interface needs them: parsing and printing IPv4/IPv6 text,
 * the hex form Consul uses in `<hex>.addr.<dc>.consul` names, and a check that a name can be
 * written on the wire. Pure functions, no runtime APIs.
 */

/** A parsed IP address: 4 bytes (IPv4, including IPv4-mapped IPv6) or 16 bytes (IPv6). */
export interface ParsedIp {
  readonly family: 4 | 6;
  readonly bytes: readonly number[];
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4(text: string): number[] | undefined {
  const m = IPV4.exec(text);
  if (!m) return undefined;
  const bytes = m.slice(1, 5).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

function parseIpv6(text: string): number[] | undefined {
  if (text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  // A dotted quad may only end the address.
  const groups = (part: string, last: boolean): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i] as string;
      if (last && i === pieces.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (!v4) return undefined;
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
      } else if (HEX_GROUP.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0] as string, halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1] as string, true) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  // With "::" at least one group is elided; without it there must be exactly eight.
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** True when 16 bytes are an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
function isV4Mapped(bytes: readonly number[]): boolean {
  return bytes.length === 16 && bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

function fromBytes(bytes: readonly number[]): ParsedIp {
  // As Go's net.IP does, an IPv4-mapped IPv6 address is an IPv4 address.
  if (isV4Mapped(bytes)) return { family: 4, bytes: bytes.slice(12) };
  return bytes.length === 4 ? { family: 4, bytes } : { family: 6, bytes };
}

/**
 * Parses an IPv4 dotted quad or IPv6 text (with `::` and a trailing dotted quad allowed).
 * Returns undefined for anything else (hostnames, empty strings, zone ids, out-of-range parts).
 */
export function parseIp(text: string): ParsedIp | undefined {
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = text.includes(':') ? parseIpv6(text) : undefined;
  return v6 ? fromBytes(v6) : undefined;
}

/** Prints an address: IPv4 dotted quad, IPv6 in RFC 5952 form (lower case, longest zero run as `::`). */
export function formatIp(ip: ParsedIp): string {
  if (ip.family === 4) return ip.bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i] as number) << 8) | (ip.bytes[i + 1] as number));
  // Longest run of two or more zero groups (the first one on a tie) becomes "::".
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/** The record type that carries an address: 'A' for IPv4, 'AAAA' for IPv6, undefined for a hostname. */
export function addressType(addr: string): 'A' | 'AAAA' | undefined {
  const ip = parseIp(addr);
  return ip ? (ip.family === 4 ? 'A' : 'AAAA') : undefined;
}

/**
 * The label Consul puts before `.addr.`: the address bytes in lower-case hex, 8 digits for IPv4
 * (also for IPv4-mapped IPv6), 32 for IPv6.
 */
export function hexOfIp(ip: ParsedIp): string {
  return ip.bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Reads an `.addr.` label: exactly 8 hex digits (IPv4) or 32 (IPv6; an IPv4-mapped one reads as
 * IPv4). Undefined for any other length or a non-hex character.
 */
export function ipOfHex(label: string): ParsedIp | undefined {
  if ((label.length !== 8 && label.length !== 32) || !/^[0-9a-fA-F]+$/.test(label)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < label.length; i += 2) bytes.push(parseInt(label.slice(i, i + 2), 16));
  return fromBytes(bytes);
}

const LABEL = /^[A-Za-z0-9_-]{1,63}$/;

/**
 * Whether `name` (with or without the final dot) can be written as a DNS name: labels of 1-63
 * letters, digits, '-' or '_', at most 253 characters in all. Names that fail are never put in a
 * record (the wire format cannot carry longer labels, and other bytes confuse resolvers).
 */
export function isDnsName(name: string): boolean {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  return bare.length > 0 && bare.length <= 253 && bare.split('.').every((l) => LABEL.test(l));
}
