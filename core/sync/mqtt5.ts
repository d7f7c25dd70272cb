/**
 * MQTT 5 conventions of Konsul's MQTT links, shared by the servers' bridge and the edge agents'
 * sync client: which protocol version to speak, the session a connection keeps, the properties
 * a device's request may carry and the ones its ack carries back.
 *
 * Pure: it builds and reads the plain objects mqtt.js takes and gives (`properties` of CONNECT
 * and PUBLISH packets) without importing it.
 */
import type { KonsulError } from '../errors.js';
import type { RejectReason } from './device.js';

/** `--mqtt-protocol`: MQTT 5, 3.1.1, or `auto` (5, and 3.1.1 when the broker refuses 5). */
export type MqttProtocol = 'auto' | '3.1.1' | '5';

/** The values `--mqtt-protocol` takes. */
export const MQTT_PROTOCOLS: readonly MqttProtocol[] = ['auto', '5', '3.1.1'];

/** The protocol level in a CONNECT packet: 4 is MQTT 3.1.1, 5 is MQTT 5. */
export type ProtocolLevel = 4 | 5;

/** The level a connection opens with under `protocol` (auto tries 5 first). */
export function firstProtocolLevel(protocol: MqttProtocol): ProtocolLevel {
  return protocol === '3.1.1' ? 4 : 5;
}

/**
 * Whether a refused connection should be opened again with MQTT 3.1.1: under `auto`, at level 5,
 * when the broker answered "unacceptable protocol version" (a 3.1.1 broker's CONNACK return code
 * 1, as aedes sends) or "unsupported protocol version" (MQTT 5 reason code 0x84). `code` is the
 * code of mqtt.js's connection error (undefined for other errors).
 */
export function shouldFallBack(protocol: MqttProtocol, level: ProtocolLevel, code: unknown): boolean {
  return protocol === 'auto' && level === 5 && (code === 1 || code === REASON.unsupportedProtocolVersion);
}

/** Default Session Expiry Interval of the servers' and agents' MQTT 5 sessions (seconds). */
export const DEFAULT_SESSION_EXPIRY_SECONDS = 300;
/** Largest `--mqtt-session-expiry` (seconds): a day. */
export const MAX_SESSION_EXPIRY_SECONDS = 86_400;

/**
 * What a connection at `level` asks for: at level 5 a session that the broker keeps for
 * `sessionExpirySeconds` after the connection drops (Clean Start 0: a reconnect, or a restart with
 * the same client id within that time, resumes it with its subscriptions and the QoS 1 messages
 * queued meanwhile); at level 4 a clean session, as before MQTT 5.
 */
export function sessionOptions(
  level: ProtocolLevel,
  sessionExpirySeconds: number,
): { clean: boolean; properties?: { sessionExpiryInterval: number } } {
  if (level === 4) return { clean: true };
  return { clean: false, properties: { sessionExpiryInterval: sessionExpirySeconds } };
}

/**
 * MQTT 5 reason codes an ack carries (the PUBACK codes of MQTT 5 §3.4.2.1, for a device's
 * application-level request).
 */
export const REASON = {
  success: 0x00,
  unspecified: 0x80,
  implementationSpecific: 0x83,
  unsupportedProtocolVersion: 0x84,
  notAuthorized: 0x87,
  quotaExceeded: 0x97,
  payloadFormatInvalid: 0x99,
} as const;

/** The reason code of a refused device message, by why it was refused. */
const REFUSAL_CODES: Readonly<Record<RejectReason, number>> = {
  malformed: REASON.payloadFormatInvalid,
  unsigned: REASON.notAuthorized,
  'unknown-key': REASON.notAuthorized,
  'bad-signature': REASON.notAuthorized,
  expired: REASON.notAuthorized,
  unauthorized: REASON.notAuthorized,
};

/** The reason code of a device message refused for `reason`. */
export function refusalCode(reason: RejectReason): number {
  return REFUSAL_CODES[reason];
}

/** The reason code of a verified device message the server failed to apply, by the error's code. */
export function failureCode(err: unknown): number {
  switch ((err as Partial<KonsulError> | undefined)?.code) {
    case 'overloaded':
    case 'rate_limited':
    case 'limit_reached':
      return REASON.quotaExceeded;
    case 'permission_denied':
      return REASON.notAuthorized;
    case 'bad_request':
    case 'too_large':
      return REASON.payloadFormatInvalid;
    default:
      return REASON.implementationSpecific;
  }
}

/** The user property carrying a device's request id (echoed in its ack). */
export const REQUEST_ID_PROPERTY = 'request-id';
/** The user property carrying an ack's reason code, in decimal. */
export const REASON_CODE_PROPERTY = 'reason-code';
/** Longest request id echoed (characters); a longer one is not echoed. */
export const MAX_REQUEST_ID_CHARS = 256;

/** The MQTT 5 properties of a PUBLISH that Konsul reads or writes (as mqtt.js represents them). */
export interface PublishProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  responseTopic?: string;
  correlationData?: Uint8Array;
  userProperties?: Record<string, string | string[]>;
  contentType?: string;
}

/** What a device's request asked to have echoed in its ack. */
export interface RequestEcho {
  /** The first `request-id` user property, when at most MAX_REQUEST_ID_CHARS long. */
  readonly requestId?: string;
  /** Correlation Data, as sent (the protocol bounds it to 65,535 bytes). */
  readonly correlationData?: Uint8Array;
  /** The Response Topic, when it is the device's own ack topic or below it (see requestEcho). */
  readonly responseTopic?: string;
}

/**
 * Reads what a device's PUBLISH asks to have echoed. None of it is signed: it routes and labels
 * the ack, never decides what is applied (a write's exactly-once key is the signed `rid`). A
 * Response Topic is honoured only when it is `ackTopic` or a topic below it (`ackTopic/…`), so a
 * device cannot make the server publish elsewhere; another one is ignored and the ack goes to
 * `ackTopic`.
 */
export function requestEcho(properties: PublishProperties | undefined, ackTopic: string): RequestEcho {
  const echo: { requestId?: string; correlationData?: Uint8Array; responseTopic?: string } = {};
  if (!properties) return echo;
  const raw = properties.userProperties?.[REQUEST_ID_PROPERTY];
  const id = Array.isArray(raw) ? raw[0] : raw;
  if (id !== undefined && id.length <= MAX_REQUEST_ID_CHARS) echo.requestId = id;
  if (properties.correlationData) echo.correlationData = properties.correlationData;
  const topic = properties.responseTopic;
  if (topic !== undefined && (topic === ackTopic || topic.startsWith(`${ackTopic}/`)) && !hasWildcardOrNul(topic))
    echo.responseTopic = topic;
  return echo;
}

/** Whether a topic holds `+`, `#` or NUL (none of which a topic name may hold). */
function hasWildcardOrNul(topic: string): boolean {
  return topic.includes('+') || topic.includes('#') || topic.includes('\u0000');
}

/**
 * The properties of an ack: the echoed request id and Correlation Data, the reason code as a user
 * property, a Message Expiry Interval of `expirySeconds` (1 or more: an ack nobody read by then is
 * dropped by the broker, not delivered late), and a JSON content type.
 */
export function ackProperties(echo: RequestEcho, reasonCode: number, expirySeconds: number): PublishProperties {
  return {
    payloadFormatIndicator: true,
    contentType: 'application/json',
    messageExpiryInterval: Math.max(1, Math.ceil(expirySeconds)),
    userProperties: {
      [REASON_CODE_PROPERTY]: String(reasonCode),
      ...(echo.requestId !== undefined ? { [REQUEST_ID_PROPERTY]: echo.requestId } : {}),
    },
    ...(echo.correlationData ? { correlationData: echo.correlationData } : {}),
  };
}

/** Message expiry of a write's ack and of a refusal (seconds). */
export const ACK_EXPIRY_SECONDS = 60;

/**
 * Message expiry of a heartbeat's ack (seconds): the heartbeat's TTL when it has one (once it
 * passed, the status the ack confirms may be gone), else ACK_EXPIRY_SECONDS.
 */
export function heartbeatAckExpirySeconds(ttlMs: number): number {
  return ttlMs > 0 ? Math.min(ACK_EXPIRY_SECONDS, Math.ceil(ttlMs / 1000)) : ACK_EXPIRY_SECONDS;
}
