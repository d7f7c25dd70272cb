import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTestNode } from '../../../testing/harness.js';

type Json = Record<string, unknown>;

describe('JWT auth method: /v1/acl/login and /logout', () => {
  const title = 'logs in with a valid JWT bound to roles and policies, refuses every kind of bad token, and logs out';
  it(title, async () => {
    const node = createTestNode({ acl: { enabled: true, defaultPolicy: 'deny' } });
    const call = async (method: string, path: string, token?: string, body?: unknown) => {
      const res = await node.request(path, {
        method,
        headers: token ? { 'X-Consul-Token': token } : {},
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, text, json: () => JSON.parse(text) as Json };
    };
    const mgmt = (await call('PUT', '/v1/acl/bootstrap')).json()['SecretID'] as string;
    expect(
      (await call('PUT', '/v1/acl/policy', mgmt, { Name: 'kv-read', Rules: 'key_prefix "" { policy = "read" }' }))
        .status,
    ).toBe(200);
    expect((await call('PUT', '/v1/acl/policy', mgmt, { Name: 'acl-read', Rules: 'acl = "read"' })).status).toBe(200);
    expect((await call('PUT', '/v1/acl/role', mgmt, { Name: 'dev', Policies: [{ Name: 'kv-read' }] })).status).toBe(
      200,
    );

    const idp = await generateKeyPair('RS256');
    const attacker = await generateKeyPair('RS256');
    const pem = await exportSPKI(idp.publicKey);
    const method = {
      Name: 'corp',
      Type: 'jwt',
      MaxTokenTTL: '1h',
      Config: {
        JWTValidationPubKeys: [pem],
        BoundIssuer: 'https://idp.example',
        BoundAudiences: ['konsul'],
        ClaimMappings: { sub: 'user', team: 'team' },
        ListClaimMappings: { groups: 'groups' },
      },
    };
    expect((await call('PUT', '/v1/acl/auth-method', mgmt, method)).status).toBe(200);
    for (const rule of [
      { AuthMethod: 'corp', Selector: 'value.team == "dev"', BindType: 'role', BindName: 'dev' },
      { AuthMethod: 'corp', Selector: '"auditors" in list.groups', BindType: 'policy', BindName: 'acl-read' },
      { AuthMethod: 'corp', Selector: '', BindType: 'policy', BindName: 'user-${value.user}' },
    ])
      expect((await call('PUT', '/v1/acl/binding-rule', mgmt, rule)).status).toBe(200);
    expect((await call('GET', '/v1/acl/binding-rules?authmethod=corp', mgmt)).json()).toHaveLength(3);

    const now = Math.floor(node.clock.now() / 1000);
    const jwt = (
      claims: Json,
      opts: { key?: CryptoKey; exp?: number; nbf?: number; aud?: string; iss?: string } = {},
    ) => {
      const j = new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer(opts.iss ?? 'https://idp.example')
        .setAudience(opts.aud ?? 'konsul')
        .setSubject('alice')
        .setExpirationTime(opts.exp ?? now + 300);
      if (opts.nbf !== undefined) j.setNotBefore(opts.nbf);
      return j.sign(opts.key ?? idp.privateKey);
    };
    const login = (bearer: string, authMethod = 'corp') =>
      call('POST', '/v1/acl/login', undefined, { AuthMethod: authMethod, BearerToken: bearer });

    const ok = await login(await jwt({ team: 'dev', groups: ['auditors'] }));
    expect(ok.status).toBe(200);
    const tok = ok.json();
    expect(tok).toMatchObject({ AuthMethod: 'corp', Roles: [{ Name: 'dev' }], Policies: [{ Name: 'acl-read' }] });
    expect(Date.parse(tok['ExpirationTime'] as string)).toBe(node.clock.now() + 3600_000);
    const secret = tok['SecretID'] as string;
    await call('PUT', '/v1/kv/x', mgmt, 'v');
    expect((await call('GET', '/v1/kv/x', secret)).status).toBe(200);
    expect((await call('PUT', '/v1/kv/x', secret, 'w')).status).toBe(403);

    // Every bad token is refused with 403 and a reason; none of them gets a token.
    const hmacConfusion = await new SignJWT({ team: 'dev' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://idp.example')
      .setAudience('konsul')
      .setExpirationTime(now + 300)
      .sign(new TextEncoder().encode(pem));
    const refusals: Array<[string, string, RegExp]> = [
      ['forged', await jwt({ team: 'dev' }, { key: attacker.privateKey }), /no key of this auth method verifies/],
      [
        'none',
        new UnsecuredJWT({ team: 'dev' })
          .setIssuer('https://idp.example')
          .setAudience('konsul')
          .setExpirationTime(now + 300)
          .encode(),
        /algorithm "none" is not accepted/,
      ],
      ['hmac confusion', hmacConfusion, /algorithm "HS256" is not accepted/],
      ['expired', await jwt({ team: 'dev' }, { exp: now - 60 }), /expired/],
      ['not yet valid', await jwt({ team: 'dev' }, { nbf: now + 600 }), /nbf claim/],
      ['wrong audience', await jwt({ team: 'dev' }, { aud: 'someone-else' }), /aud claim/],
      ['wrong issuer', await jwt({ team: 'dev' }, { iss: 'https://evil.example' }), /iss claim/],
      ['no binding', await jwt({ team: 'ops' }), /no binding rule/],
      ['garbage', 'not.a.jwt', /not a JWT/],
    ];
    for (const [what, bearer, message] of refusals) {
      const r = await login(bearer);
      expect(r.status, what).toBe(403);
      expect(r.text, what).toMatch(message);
    }
    expect((await login(await jwt({ team: 'dev' }), 'nope')).status).toBe(404);
    expect((await call('POST', '/v1/acl/login', undefined, { AuthMethod: 'corp' })).status).toBe(400);

    // Logout deletes the login token; other tokens cannot log out.
    expect((await call('POST', '/v1/acl/logout', mgmt)).status).toBe(403);
    expect((await call('POST', '/v1/acl/logout', secret)).status).toBe(200);
    expect((await call('GET', '/v1/acl/token/self', secret)).status).toBe(403);

    // A JWKS works too (keys chosen by kid); deleting the method removes its rules and tokens.
    const jwksKey = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(jwksKey.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    expect(
      (
        await call('PUT', '/v1/acl/auth-method', mgmt, {
          Name: 'jwks',
          Type: 'jwt',
          Config: { JWKS: { keys: [jwk] }, JWTSupportedAlgs: ['ES256'], ClaimMappings: { team: 'team' } },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await call('PUT', '/v1/acl/binding-rule', mgmt, {
          AuthMethod: 'jwks',
          Selector: 'value.team == "dev"',
          BindType: 'role',
          BindName: 'dev',
        })
      ).status,
    ).toBe(200);
    const es = await new SignJWT({ team: 'dev' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setExpirationTime(now + 300)
      .sign(jwksKey.privateKey);
    const viaJwks = await login(es, 'jwks');
    expect(viaJwks.status).toBe(200);
    expect((await call('DELETE', '/v1/acl/auth-method/jwks', mgmt)).text.trim()).toBe('true');
    expect((await call('GET', '/v1/acl/token/self', viaJwks.json()['SecretID'] as string)).status).toBe(403);
    expect((await call('GET', '/v1/acl/binding-rules?authmethod=jwks', mgmt)).json()).toEqual([]);
  });

  it('refuses auth methods and binding rules it cannot use, naming the field', async () => {
    const node = createTestNode({ acl: { enabled: true, defaultPolicy: 'deny' } });
    const boot = await node.request('/v1/acl/bootstrap', { method: 'PUT' });
    const mgmt = ((await boot.json()) as { SecretID: string }).SecretID;
    const put = async (path: string, body: unknown) => {
      const res = await node.request(path, {
        method: 'PUT',
        headers: { 'X-Consul-Token': mgmt },
        body: JSON.stringify(body),
      });
      return { status: res.status, text: await res.text() };
    };
    const pem = await exportSPKI((await generateKeyPair('RS256')).publicKey);
    const cases: Array<[unknown, RegExp]> = [
      [{ Name: 'm', Type: 'oidc', Config: {} }, /Type must be "jwt"/],
      [{ Name: 'm', Type: 'jwt', Config: {} }, /give JWTValidationPubKeys or JWKS/],
      [{ Name: 'm', Type: 'jwt', Config: { JWTValidationPubKeys: ['not a key'] } }, /JWTValidationPubKeys\[0\]/],
      [
        { Name: 'm', Type: 'jwt', Config: { JWTValidationPubKeys: [pem], JWTSupportedAlgs: ['HS256'] } },
        /"HS256" is not allowed/,
      ],
      [{ Name: 'm', Type: 'jwt', Config: { JWKS: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } } }, /public keys only/],
      [{ Name: 'm', Type: 'jwt', MaxTokenTTL: 'forever', Config: { JWTValidationPubKeys: [pem] } }, /MaxTokenTTL/],
    ];
    for (const [body, message] of cases) {
      const r = await put('/v1/acl/auth-method', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.text, JSON.stringify(body)).toMatch(message);
    }
    expect(
      (await put('/v1/acl/auth-method', { Name: 'm', Type: 'jwt', Config: { JWTValidationPubKeys: [pem] } })).status,
    ).toBe(200);
    expect(
      (await put('/v1/acl/binding-rule', { AuthMethod: 'm', Selector: 'value.x ==', BindType: 'role', BindName: 'r' }))
        .status,
    ).toBe(400);
    expect((await put('/v1/acl/binding-rule', { AuthMethod: 'm', BindType: 'node', BindName: 'r' })).text).toMatch(
      /BindType/,
    );
    expect((await put('/v1/acl/binding-rule', { AuthMethod: 'ghost', BindType: 'role', BindName: 'r' })).text).toMatch(
      /auth method "ghost" not found/,
    );
  });
});
