/**
 * IP addresses and names as the DNS interface needs them: parsing and printing IPv4/IPv6 text,
 * the hex form Consul uses in `<hex>.addr.<dc>.consul` names, and a check that a name can be
 * written on the wire. Pure functions, no runtime APIs.
 */
import ipaddr from 'ipaddr.js';

/** A parsed IP address: 4 bytes (IPv4, including IPv4-mapped IPv6) or 16 bytes (IPv6). */
export interface ParsedIp {
  readonly family: 4 | 6;
  readonly bytes: readonly number[];
}

/**
 * Parses an IPv4 dotted quad or IPv6 text (with `::` and a trailing dotted quad allowed), as Go's
 * net.ParseIP does. Returns undefined for anything else (hostnames, empty strings, zone ids,
 * out-of-range parts, the legacy short and hex IPv4 forms). An IPv4-mapped IPv6 address is IPv4.
 */
export function parseIp(text: string): ParsedIp | undefined {
  const quad = dottedQuad(text);
  if (quad) return { family: 4, bytes: quad };
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return { family: 4, bytes: ipaddr.IPv4.parse(text).toByteArray() };
  if (!text.includes(':') || text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
  const v6 = ipaddr.IPv6.parse(text);
  if (v6.isIPv4MappedAddress()) return { family: 4, bytes: v6.toIPv4Address().toByteArray() };
  return { family: 6, bytes: v6.toByteArray() };
}

/**
 * The four bytes of `text` when it is exactly four decimal parts of 0..255 without leading zeros
 * (what ipaddr.js's isValidFourPartDecimal takes), read without regular expressions: catalog
 * addresses are nearly all of this form. Undefined for anything else.
 */
function dottedQuad(text: string): number[] | undefined {
  const bytes: number[] = [];
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || value > 255 || bytes.length === 4) return undefined;
      bytes.push(value);
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && value === 0) return undefined;
      if (++digits > 3) return undefined;
      value = value * 10 + (c - 0x30);
    } else return undefined;
  }
  return bytes.length === 4 ? bytes : undefined;
}

/** Prints an address: IPv4 dotted quad, IPv6 in RFC 5952 form (lower case, longest zero run as `::`). */
export function formatIp(ip: ParsedIp): string {
  if (ip.family === 4) return ip.bytes.join('.');
  return ipaddr.fromByteArray([...ip.bytes]).toString();
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
  return bytes.length === 4 ? { family: 4, bytes } : (parseIp(formatIp({ family: 6, bytes })) as ParsedIp);
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
