import { describe, expect, it } from 'vitest';
import { ConfigError, NoLeaderError, OverloadedError, PermissionDeniedError } from '../errors.js';
import {
  ACK_EXPIRY_SECONDS,
  ackProperties,
  failureCode,
  firstProtocolLevel,
  heartbeatAckExpirySeconds,
  MAX_REQUEST_ID_CHARS,
  REASON,
  refusalCode,
  requestEcho,
  sessionOptions,
  shouldFallBack,
} from './mqtt5.js';

const ACK = 'konsul/v1/dc1/ack/dev1';

describe('MQTT protocol choice', () => {
  it('opens with 5 unless told 3.1.1, and falls back only under auto when the broker refuses the version', () => {
    expect([firstProtocolLevel('auto'), firstProtocolLevel('5'), firstProtocolLevel('3.1.1')]).toEqual([5, 5, 4]);
    // aedes answers a version-5 CONNECT with the 3.1.1 return code 1; an MQTT 5 broker with 0x84.
    expect(shouldFallBack('auto', 5, 1)).toBe(true);
    expect(shouldFallBack('auto', 5, 0x84)).toBe(true);
    expect(shouldFallBack('5', 5, 1)).toBe(false);
    expect(shouldFallBack('auto', 4, 1)).toBe(false);
    // Refused credentials or a network error are not a version problem.
    expect(shouldFallBack('auto', 5, 0x86)).toBe(false);
    expect(shouldFallBack('auto', 5, 'ECONNREFUSED')).toBe(false);
  });

  it('keeps an MQTT 5 session for the expiry; 3.1.1 stays a clean session', () => {
    expect(sessionOptions(5, 300)).toEqual({ clean: false, properties: { sessionExpiryInterval: 300 } });
    expect(sessionOptions(4, 300)).toEqual({ clean: true });
  });
});

describe('MQTT 5 request echo and acks', () => {
  it('echoes the first request id, the correlation data, and only a response topic of the device', () => {
    const data = new Uint8Array([1, 2, 3]);
    expect(
      requestEcho(
        { userProperties: { 'request-id': ['a', 'b'] }, correlationData: data, responseTopic: `${ACK}/mine` },
        ACK,
      ),
    ).toEqual({ requestId: 'a', correlationData: data, responseTopic: `${ACK}/mine` });
    expect(requestEcho({ responseTopic: ACK }, ACK)).toEqual({ responseTopic: ACK });
    for (const foreign of [
      'konsul/v1/dc1/changes',
      'konsul/v1/dc1/ack/dev10',
      `${ACK}x`,
      'elsewhere/ack',
      `${ACK}/#`,
      `${ACK}/+`,
    ])
      expect(requestEcho({ responseTopic: foreign }, ACK), foreign).toEqual({});
    expect(requestEcho({ userProperties: { 'request-id': 'x'.repeat(MAX_REQUEST_ID_CHARS + 1) } }, ACK)).toEqual({});
    expect(requestEcho(undefined, ACK)).toEqual({});
  });

  it('builds ack properties with the reason code, the echo and an expiry of at least a second', () => {
    const data = new Uint8Array([9]);
    expect(ackProperties({ requestId: 'r-1', correlationData: data }, REASON.notAuthorized, 0.2)).toEqual({
      payloadFormatIndicator: true,
      contentType: 'application/json',
      messageExpiryInterval: 1,
      userProperties: { 'reason-code': '135', 'request-id': 'r-1' },
      correlationData: data,
    });
    expect(ackProperties({}, REASON.success, 60).userProperties).toEqual({ 'reason-code': '0' });
  });

  it('maps refusals and failures to PUBACK reason codes', () => {
    expect(refusalCode('malformed')).toBe(0x99);
    for (const r of ['unsigned', 'unknown-key', 'bad-signature', 'expired', 'unauthorized'] as const)
      expect(refusalCode(r), r).toBe(0x87);
    expect(failureCode(new OverloadedError('queue full'))).toBe(0x97);
    expect(failureCode(new PermissionDeniedError('no'))).toBe(0x87);
    expect(failureCode(new NoLeaderError())).toBe(0x83);
    expect(failureCode(new ConfigError('x'))).toBe(0x83);
    expect(failureCode(new Error('boom'))).toBe(0x83);
  });

  it("expires a heartbeat's ack with its TTL, capped at the ack expiry", () => {
    expect(heartbeatAckExpirySeconds(2000)).toBe(2);
    expect(heartbeatAckExpirySeconds(1500)).toBe(2);
    expect(heartbeatAckExpirySeconds(3_600_000)).toBe(ACK_EXPIRY_SECONDS);
    expect(heartbeatAckExpirySeconds(0)).toBe(ACK_EXPIRY_SECONDS);
  });
});
