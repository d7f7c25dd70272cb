/**
 * The fleet: the edge agents and MQTT devices the servers have heard from, replicated so that any
 * server (and a new leader) knows them.
 */

/** Fleet members by ID. */
export const FLEET_TABLE = 'fleet';
/** Pseudo-table notified on every fleet update (blocking reads of /v1/edge/agents). */
export const FLEET_WATCH_TABLE = 'fleet-watch';
/**
 * Pseudo-table notified only when a member appears, goes offline, comes back or is forgotten:
 * what the `changes` watch stream (/v1/watch/edge/agents) carries. The entry is the member, or
 * null when forgotten.
 */
export const FLEET_STATUS_TABLE = 'fleet-status';
/** Logical table name whose modification index answers the fleet reads. */
export const FLEET_INDEX = 'fleet';

/** Most members the table holds; reports of new members past it are dropped (and counted). */
export const MAX_FLEET_MEMBERS = 10_000;
/** Most reports in one `fleet.seen` command. */
export const MAX_FLEET_REPORTS = 1_000;
/** Longest string field of a report, in characters. */
export const MAX_FLEET_FIELD = 128;
/** Most prefixes or services a report lists. */
export const MAX_FLEET_SCOPE = 64;

/** What kind of member: an edge agent (a replica) or a device that only speaks MQTT. */
export type FleetKind = 'agent' | 'device';
/** How a member reaches the servers. */
export type FleetLink = 'http' | 'mqtt';

/** What a member says about itself when it announces (devices: what their heartbeats tell). */
export interface FleetReport {
  /** The member's name: an agent's id (its node name), a device's name. */
  readonly ID: string;
  readonly Kind: FleetKind;
  /** node, deno, bun; "" for a device. */
  readonly Runtime: string;
  readonly RuntimeVersion: string;
  /** Konsul's version on the agent. */
  readonly Version: string;
  /** x64, arm64, …. */
  readonly Arch: string;
  readonly Datacenter: string;
  /** The KV prefixes and services it replicates. */
  readonly Prefixes: readonly string[];
  readonly Services: readonly string[];
  readonly Link: FleetLink;
  /** The replica's applied index (0 for a device). */
  readonly ReplicaIndex: number;
  /** Writes queued for the servers. */
  readonly OutboxDepth: number;
}

/** A report as a server writes it: with its own applied index when it took it. */
export interface FleetHeard extends FleetReport {
  /** The server's applied index when it heard the member (ServerIndex − ReplicaIndex: how far behind). */
  readonly ServerIndex: number;
}

/** A member of the fleet as the servers keep it. */
export interface FleetMember extends FleetHeard {
  readonly Status: 'online' | 'offline';
  /** When it was first heard, last heard, and when Status last changed (ms since the epoch). */
  readonly FirstSeen: number;
  readonly LastSeen: number;
  readonly StatusSince: number;
  /** The server that heard it last. */
  readonly Server: string;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** Records reports heard by `server` at `now` (ms). Result: how many were recorded. */
export interface FleetSeenCommand {
  readonly type: 'fleet.seen';
  readonly now: number;
  readonly server: string;
  readonly reports: readonly FleetHeard[];
}

/** Marks offline every online member not heard since `now - silenceMs`. Result: their IDs. */
export interface FleetExpireCommand {
  readonly type: 'fleet.expire';
  readonly now: number;
  readonly silenceMs: number;
}

/** Removes a member. Result: whether it was there. */
export interface FleetForgetCommand {
  readonly type: 'fleet.forget';
  readonly id: string;
}
