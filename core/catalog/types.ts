/** StateStore tables of the catalog. Keys: node name; node + "/" + service id; node + "/" + check id. */
export const NODES_TABLE = 'catalog_nodes';
export const SERVICES_TABLE = 'catalog_services';
export const CHECKS_TABLE = 'catalog_checks';
/** Secondary index: service name + NUL + node + "/" + service id → '' (instances of a service in key order). */
export const SERVICE_NAME_INDEX = 'catalog_service_names';
/** Every table of the catalog (what a server keeps in memory for reads). */
export const CATALOG_TABLES = [NODES_TABLE, SERVICES_TABLE, CHECKS_TABLE, SERVICE_NAME_INDEX] as const;

/** Logical table names whose modification indexes answer blocking queries. */
export const INDEX = {
  nodes: 'nodes',
  services: 'services',
  checks: 'checks',
  /** Per service name: raised when an instance or a check that affects it changes. */
  service: (name: string) => `service:${name}`,
  /** Per node: raised when the node, its services or its checks change. */
  node: (name: string) => `node:${name}`,
} as const;

/** Health statuses, worst last. */
export const HEALTH_STATUSES = ['passing', 'warning', 'critical'] as const;
/** A check status. 'maintenance' is shown as critical. */
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

/** Load-balancing weights for SRV answers. */
export interface Weights {
  readonly Passing: number;
  readonly Warning: number;
}

/** A catalog node, in Consul's JSON shape. */
export interface CatalogNode {
  readonly ID: string;
  readonly Node: string;
  readonly Address: string;
  readonly Datacenter: string;
  readonly TaggedAddresses: Readonly<Record<string, string>>;
  readonly Meta: Readonly<Record<string, string>>;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** A service instance on a node (Consul's NodeService). */
export interface CatalogService {
  readonly ID: string;
  readonly Service: string;
  readonly Tags: readonly string[];
  readonly Address: string;
  readonly TaggedAddresses: Readonly<Record<string, { Address: string; Port: number }>>;
  readonly Meta: Readonly<Record<string, string>>;
  readonly Port: number;
  readonly Weights: Weights;
  readonly EnableTagOverride: boolean;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** A health check result in the catalog (Consul's HealthCheck). */
export interface CatalogCheck {
  readonly Node: string;
  readonly CheckID: string;
  readonly Name: string;
  readonly Status: HealthStatus;
  readonly Notes: string;
  readonly Output: string;
  readonly ServiceID: string;
  readonly ServiceName: string;
  readonly ServiceTags: readonly string[];
  readonly Type: string;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** Default weights (Consul's). */
export const DEFAULT_WEIGHTS: Weights = { Passing: 1, Warning: 1 };
/** Largest check output kept (bytes of UTF-8). */
export const MAX_CHECK_OUTPUT_BYTES = 4096;

/** Key of a service instance or check under its node. */
export const childKey = (node: string, id: string): string => `${node}/${id}`;

/**
 * ID and name of the service Consul puts on every server's node (port: the server's RPC port;
 * Konsul's: the Raft port). The leader maintains it; a server's anti-entropy leaves it alone.
 */
export const CONSUL_SERVICE = 'consul';
