import { Applier } from '../../core/fsm/applier.js';
import { readAppliedIndex } from '../../core/fsm/meta.js';
import { StateMachine } from '../../core/fsm/state-machine.js';
import { createTsHotPaths } from '../../core/hotpaths/ts-hot-paths.js';
import type { Clock, TimerHandle } from '../../core/ports/clock.js';
import type { HotPaths } from '../../core/ports/hot-paths.js';
import type { Logger, LogFields } from '../../core/ports/logger.js';
import type { Rng } from '../../core/ports/rng.js';
import type { ReadTxn, ReadView, StateStore, WriteTxn } from '../../core/ports/state-store.js';
import type { PlantedBugs, RaftConfig } from '../../core/raft/config.js';
import type { Entry, HardState, Message, NodeId } from '../../core/raft/types.js';
import { type DriverBugs, RaftDriver, type RaftObserver } from '../../core/replication/driver.js';
import {
  RAFT_LOG_TABLE,
  RAFT_META_TABLE,
  RaftStorage,
  readHardState,
  readRaftLog,
} from '../../core/replication/storage.js';
import { WatchRegistry } from '../../core/watch/watch-registry.js';
import { readRegister, registerModule, SIM_KV_TABLE } from './register.js';
import { SimStateStore } from './sim-store.js';

/** How a simulated node reaches the simulation it lives in. */
export interface SimWorld {
  now(): number;
  /** Runs `fn` after `ms` of simulated time (an event in the simulator's queue). */
  schedule(ms: number, fn: () => void): void;
  /** The node's outgoing messages, to route through the simulated network. */
  send(from: SimNode, messages: readonly Message[]): void;
  /** The node's disk got a new write to complete. */
  writeIssued(node: SimNode): void;
  /** Entries the node made durable (called inside the completing write, so a crash right after cannot hide them). */
  persisted(node: SimNode, entries: readonly Entry[]): void;
  /** The node's registers (canonical string) once a write moved its applied index to `index`. */
  stateAt(node: SimNode, index: number, state: string): void;
  applied(node: SimNode, entries: readonly Entry[]): void;
  /** `node` became leader of `term` (reported once the Ready that made it so completed). */
  becameLeader(node: SimNode, term: number): void;
  snapshotInstalled(node: SimNode): void;
  /** The driver logged an error (it stops after one): the run fails with it. */
  driverError(node: SimNode, message: string): void;
}

/** Options of a simulated node. */
export interface SimNodeOptions {
  readonly id: NodeId;
  readonly rng: Rng;
  readonly raft: Partial<Omit<RaftConfig, 'id' | 'rng'>>;
  readonly plantedBugs?: PlantedBugs & DriverBugs;
  /** Compact the log when this many applied entries follow the snapshot. */
  readonly compactEvery: number;
  /** Least time between two compactions (RaftDriverOptions.snapshotIntervalMs). */
  readonly compactIntervalMs: number;
  /** Ready writes the driver may have in flight. */
  readonly pipeline: number;
  readonly tickMs: number;
  readonly requestTimeoutMs: number;
}

/** What a node's disk says about its log, as an election would see it after a crash. */
export interface DurableLogView {
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly snapshotIndex: number;
  termAt(index: number): number | undefined;
}

const RAFT_BUGS = ['commitPreviousTermByCounting', 'readsWithoutReadIndex', 'forgetVoteOnCrash'] as const;

/**
 * One server of the simulation: the production RaftDriver, RaftStorage, Applier and
 * StateMachine (with the register module) over a SimStateStore, a Clock and a Transport that
 * belong to the simulation. Each incarnation (start to crash) gets its own clock, transport and
 * store handle, and everything a dead incarnation still tries to do (a continuation of a write
 * that completed just before the crash, a timer) is ignored, as it would be in a dead process.
 */
export class SimNode {
  readonly id: NodeId;
  readonly disk: SimStateStore;
  driver: RaftDriver | undefined;
  incarnation = 0;
  private readonly hp: HotPaths = createTsHotPaths();
  private readonly machine = new StateMachine([registerModule]);
  private durableView: DurableLogView | undefined;
  /** Views the driver opened and has not closed (at most one: the snapshot it is building). */
  private readonly openViews = new Set<ReadView>();
  private durableVersion = -1;

  constructor(
    private readonly options: SimNodeOptions,
    private readonly world: SimWorld,
  ) {
    this.id = options.id;
    this.disk = new SimStateStore([...this.machine.tables, RAFT_LOG_TABLE, RAFT_META_TABLE], () =>
      world.writeIssued(this),
    );
  }

  get alive(): boolean {
    return this.driver !== undefined;
  }

  /** Writes the bootstrap log and hard state to the disk at once (a founding member). */
  bootstrap(state: { hardState: HardState; entries: readonly Entry[] }): void {
    const storage = new RaftStorage(this.disk, this.hp);
    this.disk.immediately(() => {
      void storage.persist({ ...state, snapshot: undefined, sync: true }, () => undefined);
    });
  }

  /** Starts a new incarnation from what the disk holds. */
  start(): void {
    const incarnation = ++this.incarnation;
    const live = () => this.incarnation === incarnation && this.driver !== undefined;
    const o = this.options;
    const store = this.storeHandle(live);
    const storage = new ObservedRaftStorage(store, this.hp, {
      stored: (entries) => {
        if (this.incarnation === incarnation) this.world.persisted(this, entries);
      },
      applied: (index, tx) => {
        if (this.incarnation === incarnation) this.world.stateAt(this, index, registers(tx));
      },
    });
    const applier = new Applier(store, this.machine, new WatchRegistry(1024), 'committed');
    const observer: RaftObserver = {
      applied: (entries) => {
        if (live()) this.world.applied(this, entries);
      },
      snapshotInstalled: () => {
        if (live()) this.world.snapshotInstalled(this);
      },
    };
    const raftBugs = Object.fromEntries(RAFT_BUGS.filter((b) => o.plantedBugs?.[b]).map((b) => [b, true]));
    const driver = new RaftDriver({
      id: this.id,
      rng: o.rng,
      clock: this.clock(live),
      raft: { ...o.raft, plantedBugs: raftBugs },
      tickMs: o.tickMs,
      storage,
      store,
      stateTables: this.machine.tables,
      applier,
      logger: this.logger(live),
      transport: { send: (messages) => live() && this.world.send(this, messages) },
      snapshotThreshold: o.compactEvery,
      snapshotIntervalMs: o.compactIntervalMs,
      maxPending: 64,
      requestTimeoutMs: o.requestTimeoutMs,
      maxQueuedMessages: 4096,
      maxWritesInFlight: o.pipeline,
      observer,
      ...(o.plantedBugs ? { plantedBugs: o.plantedBugs } : {}),
    });
    driver.onRoleChange((role, _lead, term) => {
      if (live() && role === 'leader') this.world.becameLeader(this, term);
    });
    this.driver = driver;
    driver.start();
  }

  /** Loses the process and what the disk had not made durable. */
  crash(): void {
    this.driver = undefined;
    this.disk.crash();
    // Views the dead incarnation was reading (a snapshot being built) end with it.
    for (const v of this.openViews) v.close();
    this.openViews.clear();
  }

  /** The register's value as this node's state machine holds it. */
  value(key: string): string | null {
    return this.disk.read((tx) => readRegister(tx, key));
  }

  /** The registers this node holds, as a canonical string (for convergence checks). */
  state(): string {
    return this.disk.read(registers);
  }

  /** The term on disk (what a crash keeps). */
  durableTerm(): number {
    return this.disk.read((tx) => readHardState(tx)?.term ?? 0);
  }

  /**
   * The log as it stands on disk. Entries only reach the disk in synced writes, so this is what
   * survives a crash; cached until the disk changes.
   */
  durableLog(): DurableLogView {
    if (this.durableView && this.durableVersion === this.disk.version) return this.durableView;
    const { snapshot, entries } = this.disk.read((tx) => readRaftLog(tx, this.hp));
    const snap = snapshot?.meta ?? { index: 0, term: 0 };
    const last = entries[entries.length - 1];
    const view = {
      lastIndex: last?.index ?? snap.index,
      lastTerm: last?.term ?? snap.term,
      snapshotIndex: snap.index,
      termAt: (i: number) => (i === snap.index ? snap.term : entries[i - snap.index - 1]?.term),
    };
    this.durableView = view;
    this.durableVersion = this.disk.version;
    return view;
  }

  /** The disk, as one incarnation sees it: writes of a dead incarnation never start. */
  private storeHandle(live: () => boolean): StateStore {
    const disk = this.disk;
    return {
      tables: disk.tables,
      read: (fn) => disk.read(fn),
      snapshotRead: () => {
        const view = disk.snapshotRead();
        this.openViews.add(view);
        return {
          get: view.get,
          range: view.range,
          close: () => {
            this.openViews.delete(view);
            view.close();
          },
        };
      },
      write: (fn, durability) => (live() ? disk.write(fn, durability) : new Promise(() => undefined)),
      close: async () => undefined,
    };
  }

  /** Simulated time; timers of a dead incarnation never fire. */
  private clock(live: () => boolean): Clock {
    const timers = new Set<number>();
    let next = 0;
    return {
      now: () => this.world.now(),
      setTimer: (fn, ms) => {
        const id = ++next;
        timers.add(id);
        this.world.schedule(ms, () => {
          if (timers.delete(id) && live()) fn();
        });
        return id;
      },
      clearTimer: (handle: TimerHandle) => {
        timers.delete(handle as number);
      },
    };
  }

  private logger(live: () => boolean): Logger {
    const quiet = () => undefined;
    const logger: Logger = {
      trace: quiet,
      debug: quiet,
      info: quiet,
      warn: quiet,
      error: (msg: string, fields?: LogFields) => {
        if (live()) this.world.driverError(this, `${msg}: ${String(fields?.['error'] ?? '')}`);
      },
      child: () => logger,
    };
    return logger;
  }
}

/** The registers in a read view, as a canonical string. */
function registers(tx: ReadTxn): string {
  return JSON.stringify([...tx.range(SIM_KV_TABLE)]);
}

/**
 * RaftStorage that reports, from inside the transaction that stores them, the entries of each
 * write and the state it leaves when it moves the applied index.
 */
class ObservedRaftStorage extends RaftStorage {
  constructor(
    store: StateStore,
    hp: HotPaths,
    private readonly report: {
      stored(entries: readonly Entry[]): void;
      applied(index: number, tx: ReadTxn): void;
    },
  ) {
    super(store, hp);
  }

  override persist<T>(
    w: Parameters<RaftStorage['persist']>[0],
    also: ((tx: WriteTxn) => T) | undefined,
    onDurable?: () => void,
  ): Promise<T | undefined> {
    return super.persist(
      w,
      (tx) => {
        const before = readAppliedIndex(tx);
        const result = also?.(tx);
        if (w.entries.length > 0) this.report.stored(w.entries);
        const after = readAppliedIndex(tx);
        if (after !== before) this.report.applied(after, tx);
        return result;
      },
      onDurable,
    );
  }
}
