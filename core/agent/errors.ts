import { NotFoundError, RefusedError } from '../errors.js';

/**
 * The 404 for a service ID this agent does not have, in Consul's words (agent/acl.go
 * vetServiceUpdateWithAuthorizer): clients that pass a name where an ID belongs are told so.
 */
export function unknownService(id: string): NotFoundError {
  return new NotFoundError(
    `Unknown service ID ${JSON.stringify(id)}. Ensure that the service ID is passed, not the service name.`,
  );
}

/**
 * The 404 for a check ID this agent does not have, in Consul's words (agent/acl.go
 * vetCheckUpdateWithAuthorizer); Vault's Consul service registration logs exactly this text.
 */
export function unknownCheck(id: string): NotFoundError {
  return new NotFoundError(
    `Unknown check ID ${JSON.stringify(id)}. Ensure that the check ID is passed, not the check name.`,
  );
}

/** Consul's 500 for pass/warn/fail/update of a check that has no TTL (agent.updateTTLCheck). */
export function notTtlCheck(id: string): RefusedError {
  return new RefusedError(`CheckID ${JSON.stringify(id)} does not have associated TTL`);
}
