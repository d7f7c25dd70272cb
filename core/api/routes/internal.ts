import { route } from '../registry.js';
import type { Hono } from 'hono';
import { BadRequestError } from '../../errors.js';
import type { FaultsPort, PeerProposals } from '../internal-ports.js';

/** Who may send internal proposals. */
export interface InternalProposeAccess {
  /** The servers' shared secret; when set, requests must carry it in X-Konsul-Join-Token. */
  readonly joinToken: string | undefined;
  /** With ACLs on, internal proposals need a join token (they bypass every ACL check). */
  readonly aclEnabled: boolean;
}

/**
 * Registers POST /v1/internal/propose: followers send internal writes (anti-entropy, tombstone
 * reaping) to the leader as msgpack-encoded commands and get the encoded outcome back. 403
 * "Permission denied" without the join token, or always with ACLs on and no join token configured.
 */
export function registerInternalProposeRoute(app: Hono, proposals: PeerProposals, access: InternalProposeAccess): void {
  route(app, 'POST', '/v1/internal/propose', async (c) => {
    if (access.joinToken && c.req.header('x-konsul-join-token') !== access.joinToken)
      return c.text('Permission denied\n', 403);
    // With ACLs on, only servers holding the join token may propose raw commands.
    if (access.aclEnabled && !access.joinToken) return c.text('Permission denied\n', 403);
    const data = new Uint8Array(await c.req.arrayBuffer());
    const reply = await proposals.proposeForPeer(data);
    return new Response(reply as Uint8Array<ArrayBuffer>, { headers: { 'Content-Type': 'application/msgpack' } });
  });
}

/**
 * Registers PUT /v1/internal/faults (tests only; a server registers it with --test-faults):
 * body `{"block": [node names]}` drops Raft traffic to and from those servers; answers
 * `{"blocked": [...]}`. A body of any other shape is a 400.
 */
export function registerFaultsRoute(app: Hono, faults: FaultsPort): void {
  route(app, 'PUT', '/v1/internal/faults', async (c) => {
    const body = (await c.req.json().catch(() => undefined)) as { block?: unknown } | undefined;
    if (!body || !Array.isArray(body.block) || !body.block.every((b) => typeof b === 'string'))
      throw new BadRequestError('body must be {"block": [node names]}');
    faults.block(body.block as string[]);
    return c.json({ blocked: body.block });
  });
}
