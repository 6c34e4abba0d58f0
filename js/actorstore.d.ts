// Type declarations of the `actorstore` package: Actor Store's JS host.
// The contract is DESIGN.md ("JS API"); the module's bytes are wasm/ABI.md.

/** Error codes, as in DESIGN.md and wasm/ABI.md. */
export type ErrorCode =
  | "INVALID_KEY"
  | "ALREADY_EXISTS"
  | "NOT_FOUND"
  | "VERSION_MISMATCH"
  | "COMPACTED"
  | "INVALID_VALUE"
  | "VALUE_TOO_LARGE"
  | "STORE_FULL"
  | "INVALID_ARGUMENT"
  | "CLOSED"
  | "INTERNAL"
  /** Persistence: another tab or window holds the name (Web Lock). */
  | "LOCKED"
  | "RESTORED"
  /** Persistence: IndexedDB or the Web Locks API is missing. */
  | "UNAVAILABLE"
  /** Persistence: the persisted data cannot be read back (the message names the record or snapshot). */
  | "CORRUPT"
  /** Persistence: an IndexedDB write failed; the store closed itself. */
  | "STORAGE";

/** Every failure of the store is an ActorStoreError. */
export class ActorStoreError extends Error {
  readonly name: "ActorStoreError";
  readonly code: ErrorCode;
  /** VERSION_MISMATCH: the version the caller expected. */
  readonly expected?: number;
  /** VERSION_MISMATCH: the actor's current version. */
  readonly actual?: number;
  /** COMPACTED: the first sequence asked for. */
  readonly requested?: number;
  /** COMPACTED: the oldest sequence still retained. */
  readonly oldest?: number;
  /** Batch failures: the index of the failing operation. */
  readonly index?: number;
  constructor(code: ErrorCode, message: string, details?: {
    expected?: number; actual?: number; requested?: number; oldest?: number; index?: number;
  });
}

/**
 * CBOR bytes passed through untouched as a value (no encoding): the store
 * still checks that they are one well-formed CBOR item.
 */
export class RawCBOR {
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array);
}

/** Encodes a JS value to CBOR exactly as the store does for writes. */
export function encodeValue(value: unknown): Uint8Array;
/** Decodes CBOR bytes exactly as the store does for reads (a value JS cannot represent becomes a RawCBOR; never throws on well-formed CBOR). */
export function decodeValue(bytes: Uint8Array): unknown;

/** Where the module comes from. */
export type WasmSource =
  | string
  | URL
  | Response
  | PromiseLike<Response>
  | ArrayBuffer
  | ArrayBufferView
  | WebAssembly.Module;

export interface OpenOptions {
  /** The module; defaults to the package's own `actorstore.wasm`. */
  wasm?: WasmSource;
  /** Replay buffer bound in events (default 10,000). */
  replayBufferSize?: number;
  /** Replay buffer bound in bytes (default 64 MiB). */
  replayBufferBytes?: number;
  /** Largest value in bytes (default 1 MiB, at most 64 MiB). */
  maxValueBytes?: number;
  /** Budget of accounted actor bytes (default 1 GiB, at most 1.5 GiB). */
  maxDataBytes?: number;
  /**
   * The host clock giving each mutation's timestamp: milliseconds since the
   * Unix epoch (fractions kept to the nanosecond) or a Date. Default Date.now.
   */
  clock?: () => number | Date;
  /**
   * Raw mode: values read are the stored CBOR bytes (a Uint8Array copy),
   * never decoded; values written must be Uint8Array or RawCBOR.
   */
  raw?: boolean;
  /**
   * Keep the store in IndexedDB (database "actorstore:<name>"): it is
   * rebuilt from there on open, and every mutation is written in batched
   * transactions (see flush, pendingWrites). One open store per name, held
   * with the Web Lock "actorstore:<name>": a second one is LOCKED.
   * Missing IndexedDB or Web Locks is UNAVAILABLE; unreadable data CORRUPT.
   */
  persist?: PersistOptions;
}

export interface PersistOptions {
  /** Names the database ("actorstore:" + name) and the lock. */
  name: string;
  /** A snapshot is taken once the log since the last one holds this many bytes (default 4 MiB)… */
  snapshotBytes?: number;
  /** …or this many records (default 20,000). */
  snapshotRecords?: number;
}

export interface Actor<V = any> {
  type: string;
  id: string;
  value: V;
  version: number;
}

export type Operation = "insert" | "update" | "delete";

export interface ChangeEvent<V = any> {
  sequence: number;
  operation: Operation;
  actorType: string;
  actorId: string;
  /** Absent (undefined) on insert. */
  previousValue?: V;
  previousVersion?: number;
  /** Absent (undefined) on delete. */
  newValue?: V;
  newVersion?: number;
  timestamp: Date;
}

export interface Filter {
  /** Only this actor type (exact). */
  actorType?: string;
  /** Only ids starting with this prefix. */
  keyPrefix?: string;
}

export interface ChangesOptions extends Filter {
  /** Most events returned (default 1,000); a page may hold fewer. */
  limit?: number;
}

export interface ChangesPage<V = any> {
  events: ChangeEvent<V>[];
  /** Cursor for the next call: pass it as `since`. */
  next: number;
}

export type StartPosition =
  | "beginning"
  | "now"
  | { sequence: number }
  | { time: number | Date };

export interface SubscribeOptions extends Filter {
  /** Default "beginning". */
  from?: StartPosition;
}

export type BatchOp<V = any> =
  | { op: "insert"; type: string; id: string; value: V }
  | { op: "update"; type: string; id: string; value: V }
  | { op: "updateVersioned"; type: string; id: string; value: V; expected: number }
  | { op: "delete"; type: string; id: string };

export interface BatchResult<V = any> {
  /** The written actor, or for a delete the removed one (undefined when absent). */
  actor: Actor<V> | undefined;
  /** False only for a delete of an absent actor. */
  found: boolean;
}

export interface Stats {
  totalEvents: number;
  currentSequence: number;
  /** Events retained in the replay buffer. */
  replayBufferSize: number;
  activeSubscriptions: number;
  eventsDropped: number;
  oldestSequence: number;
  replayBufferBytes: number;
  actors: number;
  dataBytes: number;
}

export class ActorStore {
  private constructor();
  static open(options?: OpenOptions): Promise<ActorStore>;

  insert<V = any>(type: string, id: string, value: V): Actor<V>;
  get<V = any>(type: string, id: string): Actor<V> | undefined;
  update<V = any>(type: string, id: string, value: V): Actor<V>;
  updateVersioned<V = any>(type: string, id: string, value: V, expected: number): Actor<V>;
  delete<V = any>(type: string, id: string): Actor<V> | undefined;
  getAll<V = any>(type: string): Actor<V>[];
  changes<V = any>(since: number, options?: ChangesOptions): ChangesPage<V>;
  batch<V = any>(ops: BatchOp[]): BatchResult<V>[];
  stats(): Stats;

  /**
   * Delivers matching events to onEvent asynchronously (a microtask after the
   * mutation that made them), in order, exactly once. A subscriber that
   * falls out of the replay buffer gets a COMPACTED error through onError
   * and is ended. Returns a function that ends the subscription.
   */
  subscribe<V = any>(
    options: SubscribeOptions,
    onEvent: (event: ChangeEvent<V>) => void,
    onError?: (error: ActorStoreError) => void,
  ): () => void;

  /** The same events as an async iterator; `break` ends it. */
  watch<V = any>(options?: SubscribeOptions): AsyncIterableIterator<ChangeEvent<V>>;

  /**
   * The whole state (actors, sequence counter, dropped count, replay
   * buffer) as the portable snapshot stream, the same bytes on every host.
   */
  snapshot(): Uint8Array;
  /**
   * Replaces the whole state with a snapshot's. Garbage or a truncated
   * stream is INVALID_ARGUMENT and leaves the store unchanged. A persisted
   * store writes it as its new snapshot and clears its log (queued like a
   * write).
   */
  restore(snapshot: Uint8Array | ArrayBuffer): void;

  /**
   * Resolves once every mutation made before the call is committed to
   * IndexedDB; rejects with STORAGE when a write failed (the store has
   * then closed itself). Resolves at once for an in-memory store.
   */
  flush(): Promise<void>;
  /** Mutations (and restores) not yet committed to IndexedDB; 0 in memory. */
  readonly pendingWrites: number;

  /**
   * Frees the module; every later call throws CLOSED. A persisted store
   * then writes what is queued and releases its name: the promise settles
   * then (rejecting with STORAGE if that write fails). Idempotent.
   */
  close(): Promise<void>;
  readonly closed: boolean;

  /** Deletes a persisted store's database; LOCKED while it is open somewhere. */
  static deletePersisted(name: string): Promise<void>;

  /**
   * A replica of a server's store (DESIGN.md, "Replicas"): the server's
   * actors, versions and sequence numbers in a module of the page's own.
   * Resolves once it is in sync with the server — or at once, offline, for
   * a persisted replica (its IndexedDB copy); rejects with UNAUTHORIZED,
   * FORBIDDEN or NOT_FOUND from the server, and, in memory, with
   * UNAVAILABLE when the server cannot be reached within `timeout`.
   */
  static connect(options: ConnectOptions): Promise<Replica>;
}

/** A WebSocket constructor (the page's, or in Node 20 the ws package's). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => any;

export interface ConnectOptions {
  /** The server's base URL: "http://127.0.0.1:7070". */
  url: string | URL;
  /** The bearer token; on the watch it travels as the subprotocol actorstore.token.<base64url>. */
  token?: string;
  /**
   * Keep the replica's state (IndexedDB database "actorstore:replica:<name>")
   * and its queued writes ("actorstore-outbox:<name>"), so that a reload
   * starts from them and sends what was queued.
   */
  persist?: { name: string } | null | false;
  /** Tabs of one name share one connection (Web Locks, BroadcastChannel); persist.name by default. */
  name?: string;
  wasm?: WasmSource;
  /** Values are CBOR bytes in and out, as with open's raw. */
  raw?: boolean;
  /** The replica's own replay buffer (its subscriptions' reach). */
  replayBufferSize?: number;
  replayBufferBytes?: number;
  /** The replica's limits: by default the module's largest, so that it holds whatever its server holds. */
  maxValueBytes?: number;
  maxDataBytes?: number;
  /** The WebSocket to use: globalThis.WebSocket by default (Node 20: pass the ws package's). */
  WebSocket?: WebSocketConstructor;
  /** The fetch to use: globalThis.fetch by default. */
  fetch?: typeof fetch;
  /** Reconnection backoff, doubling from minDelay (250 ms) to maxDelay (10 s), with jitter. */
  minDelay?: number;
  maxDelay?: number;
  /** How long connect waits for the server when nothing is persisted (10 s). */
  timeout?: number;
}

export type ReplicaStatus = "online" | "connecting" | "offline";

/** A write not yet acknowledged by the server. */
export interface PendingWrite<V = any> {
  /** Its idempotency key. */
  key: string;
  op: "insert" | "update" | "updateVersioned" | "delete" | "batch";
  type?: string;
  id?: string;
  value?: V;
  expected?: number;
  ops?: BatchOp<V>[];
  queuedAt: Date;
  /** Sent, not answered yet. */
  sending: boolean;
}

export interface ReplicaEventMap {
  status: CustomEvent<{ status: ReplicaStatus }>;
  pending: CustomEvent<{ pendingWrites: number }>;
  /** The replica replaced its state with a fresh snapshot; its subscriptions ended with RESTORED. */
  resync: CustomEvent<{ reason: "COMPACTED" | "RESTORED" | "DIVERGED" | "SERVER_CHANGED"; sequence: number }>;
  /** A write settled — this page's, another tab's, or one queued before a reload. */
  settled: CustomEvent<{ write: PendingWrite; result?: Actor | BatchResult[]; error?: ActorStoreError }>;
  /** A failure the replica recovers from by itself (a refused watch, an unreachable server). */
  error: CustomEvent<{ error: ActorStoreError }>;
}

/** A replica: reads and subscriptions local and synchronous, writes sent to the server. */
export interface Replica extends EventTarget {
  get<V = any>(type: string, id: string): Actor<V> | undefined;
  getAll<V = any>(type: string): Actor<V>[];
  changes<V = any>(since: number, options?: ChangesOptions): ChangesPage<V>;
  stats(): Stats;
  snapshot(): Uint8Array;
  /** The replica's feed: the server's events; a re-sync ends subscriptions with RESTORED. */
  subscribe<V = any>(
    options: SubscribeOptions,
    onEvent: (event: ChangeEvent<V>) => void,
    onError?: (error: ActorStoreError) => void,
  ): () => void;
  watch<V = any>(options?: SubscribeOptions): AsyncIterableIterator<ChangeEvent<V>>;

  /** Resolves with the committed actor once the replica has applied it. */
  insert<V = any>(type: string, id: string, value: V): Promise<Actor<V>>;
  update<V = any>(type: string, id: string, value: V): Promise<Actor<V>>;
  /** Rejects with VERSION_MISMATCH (expected, actual) when the server has another version. */
  updateVersioned<V = any>(type: string, id: string, value: V, expected: number): Promise<Actor<V>>;
  delete<V = any>(type: string, id: string): Promise<Actor<V> | undefined>;
  batch<V = any>(ops: BatchOp[]): Promise<BatchResult<V>[]>;

  readonly status: ReplicaStatus;
  /** Writes not yet acknowledged by the server, in the order they go out (every tab's). */
  readonly pendingWrites: PendingWrite[];
  /** Stops following the server; writes not acknowledged reject with CLOSED (persisted ones stay queued). */
  close(): Promise<void>;
  readonly closed: boolean;

  addEventListener<K extends keyof ReplicaEventMap>(type: K, listener: (event: ReplicaEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof ReplicaEventMap>(type: K, listener: (event: ReplicaEventMap[K]) => void,
    options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}
