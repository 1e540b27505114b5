import pg from 'pg';

/** DataRow ('D') and ReadyForQuery ('Z') message types of PostgreSQL's protocol. */
const DATA_ROW = 0x44;
const READY_FOR_QUERY = 0x5a;
const HEADER_BYTES = 5;
const EMPTY = Buffer.alloc(0);

/** Where diverted rows go: each DataRow message body, whole, in order, as `buf[start, end)`. */
export type RowSink = (buf: Buffer, start: number, end: number) => void;

/**
 * Takes the DataRow messages of one query out of a connection's byte stream, before pg's parser
 * sees them, and hands them to a sink as bytes (row-json.ts writes them as JSON directly). Every
 * other message — RowDescription, CommandComplete (pg takes the row count from it), errors,
 * notices — passes through unchanged, so pg runs the query as one that returned no rows.
 *
 * The framing is followed over every chunk whether or not a sink is set, so a message split across
 * chunks is always recognised. A sink is set when pg dispatches the query (Submittable.submit) and
 * ends at the next ReadyForQuery, which is that query's: pg dispatches only on a ready connection.
 */
export class RowDiverter {
  #sink: RowSink | null = null;
  /** Bytes of a message header that began in an earlier chunk. */
  readonly #header = Buffer.alloc(HEADER_BYTES);
  #headerBytes = 0;
  /** Bytes of the current message body still to come. */
  #remaining = 0;
  #diverting = false;
  #body: Buffer[] = [];

  /**
   * Sends the DataRows of the query being dispatched now to `sink`, until its ReadyForQuery; false
   * (and pg parses its rows as usual) if another query's diversion has not ended. Never throws: it
   * runs inside pg's dispatch, where a throw would leave the query marked active but unsent.
   */
  divert(sink: RowSink): boolean {
    if (this.#sink !== null) return false;
    this.#sink = sink;
    return true;
  }

  /** Ends `sink`'s diversion if it is still the current one (its query failed before its end). */
  stop(sink: RowSink): void {
    if (this.#sink === sink) this.#sink = null;
  }

  /** The bytes of `chunk` that pg's parser should see. */
  filter(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let passFrom = 0;
    /** Bytes [from, to) of this chunk do not go to pg. */
    const withhold = (from: number, to: number) => {
      if (from > passFrom) out.push(chunk.subarray(passFrom, from));
      passFrom = to;
    };
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, n - i);
        if (this.#diverting && this.#body.length === 0 && take === this.#remaining) {
          // The whole body is in this chunk (the usual case): no copy, no slice.
          withhold(i, i + take);
          this.#diverting = false;
          this.#remaining = 0;
          this.#sink?.(chunk, i, i + take);
          i += take;
          continue;
        }
        if (this.#diverting) {
          this.#body.push(chunk.subarray(i, i + take));
          withhold(i, i + take);
        }
        i += take;
        this.#remaining -= take;
        if (this.#remaining === 0 && this.#diverting) this.#deliver();
        continue;
      }
      const headerStart = i;
      const carried = this.#headerBytes;
      const take = Math.min(HEADER_BYTES - carried, n - i);
      chunk.copy(this.#header, carried, i, i + take);
      this.#headerBytes += take;
      i += take;
      if (this.#headerBytes < HEADER_BYTES) {
        // The rest of the header is in the next chunk: not known yet whether pg may see it.
        withhold(headerStart, n);
        break;
      }
      this.#headerBytes = 0;
      const type = this.#header[0];
      this.#remaining = this.#header.readUInt32BE(1) - 4;
      if (type === DATA_ROW && this.#sink !== null) {
        this.#diverting = true;
        this.#body = [];
        withhold(headerStart, i);
        if (this.#remaining === 0) this.#deliver();
        continue;
      }
      this.#diverting = false;
      // A header held back from the previous chunk goes to pg now, before the rest of it.
      if (carried > 0) out.push(Buffer.from(this.#header.subarray(0, carried)));
      if (type === READY_FOR_QUERY) this.#sink = null;
    }
    if (passFrom < n) out.push(chunk.subarray(passFrom, n));
    return out.length === 0 ? EMPTY : out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** A body that came in several chunks (or none: an empty one), joined. */
  #deliver(): void {
    const body = this.#body.length === 1 ? this.#body[0]! : Buffer.concat(this.#body);
    this.#body = [];
    this.#diverting = false;
    this.#sink?.(body, 0, body.length);
  }
}

const diverters = new WeakMap<object, RowDiverter>();

/** The diverter of a connection made by DivertingClient, if it is one. */
export function diverterOf(client: object): RowDiverter | undefined {
  return diverters.get(client);
}

/** The part of pg's Connection this relies on: it hands its (TLS-unwrapped) stream to pg-protocol's parser here. */
interface ListeningConnection {
  attachListeners(stream: NodeJS.EventEmitter): void;
}

/**
 * pg.Client whose connection passes its byte stream through a RowDiverter on the way to pg's
 * parser: the executor's pools use it (pg.Pool's `Client` option). pg-protocol's parser only
 * listens for 'data' and 'end' on the stream it is given.
 */
export class DivertingClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    // Pipeline mode dispatches before the previous ReadyForQuery: rows could not be told apart.
    if ((this as unknown as { pipeline?: boolean }).pipeline === true) throw new Error('DivertingClient does not support pg pipeline mode');
    const connection = (this as unknown as { connection?: Partial<ListeningConnection> }).connection;
    // Another pg without this hook: no diverter, and every query's rows are parsed by pg as usual.
    if (typeof connection?.attachListeners !== 'function') return;
    const diverter = new RowDiverter();
    const attach = connection.attachListeners.bind(connection);
    connection.attachListeners = (stream) => {
      const filtered = {
        on(event: string, listener: (...args: unknown[]) => void) {
          if (event !== 'data') stream.on(event, listener);
          else
            stream.on('data', (chunk: Buffer) => {
              const passed = diverter.filter(chunk);
              if (passed.length > 0) listener(passed);
            });
          return filtered;
        },
      };
      attach(filtered as unknown as NodeJS.EventEmitter);
    };
    diverters.set(this, diverter);
  }
}
