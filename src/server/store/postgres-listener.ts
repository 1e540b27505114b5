import type pg from 'pg';

/** Reconnect delays: quick first retry, then back off so a down database is not hammered. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;

/**
 * One dedicated connection that LISTENs on a channel and hands each payload on. A pooled
 * connection cannot LISTEN (it returns to the pool and the subscription is lost), hence its
 * own client. On error or an unexpected end it reconnects with back-off until closed.
 *
 * Notifications sent while disconnected are lost: PostgreSQL does not queue them for a
 * listener that is not connected. Caches fed by them must also expire on their own.
 */
export class PostgresListener {
  readonly #connect: () => pg.Client;
  readonly #channel: string;
  readonly #onPayload: (payload: string | undefined) => void;
  readonly #onResync: (() => void) | undefined;
  #client: pg.Client | null = null;
  #attachedBefore = false;
  #closed = false;
  #retryMs = RETRY_MIN_MS;
  #timer: NodeJS.Timeout | null = null;

  /**
   * @param connect makes a new, unconnected client (holds the DSN so this class never sees it)
   * @param channel the channel name, already validated as a plain lower-case identifier
   * @param onResync called after every reconnect: notices sent while away are lost, so whoever
   *   caches on them must assume anything changed
   */
  constructor(connect: () => pg.Client, channel: string, onPayload: (payload: string | undefined) => void, onResync?: () => void) {
    this.#connect = connect;
    this.#channel = channel;
    this.#onPayload = onPayload;
    this.#onResync = onResync;
  }

  /** Connects and LISTENs; rejects if the first attempt fails (the caller decides what to do). */
  async start(): Promise<void> {
    await this.#attach();
  }

  async #attach(): Promise<void> {
    const client = this.#connect();
    let dropped = false;
    const drop = (): void => {
      if (dropped) return;
      dropped = true;
      if (this.#client === client) this.#client = null;
      client.end().catch(() => undefined);
      this.#scheduleReconnect();
    };
    // Without an 'error' listener a broken socket would crash the process.
    client.on('error', drop);
    client.on('end', drop);
    client.on('notification', (msg) => {
      if (msg.channel === this.#channel) this.#onPayload(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.#channel}"`);
    } catch (err) {
      dropped = true;
      client.end().catch(() => undefined);
      throw err;
    }
    if (this.#closed) {
      dropped = true;
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#retryMs = RETRY_MIN_MS;
    if (this.#attachedBefore) this.#onResync?.();
    this.#attachedBefore = true;
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#timer !== null) return;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#attach().catch(() => this.#scheduleReconnect());
    }, delay);
    // A pending reconnect must not keep a process alive that is otherwise done.
    this.#timer.unref();
  }

  /** Stops reconnecting and closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const client = this.#client;
    this.#client = null;
    // The client's error/end handlers stay attached: once closed they no longer reconnect.
    if (client) await client.end().catch(() => undefined);
  }
}
