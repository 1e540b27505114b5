import { QsError } from '../protocol/errors.js';
import { newId } from '../protocol/ids.js';
import { LruCache } from '../protocol/lru-cache.js';
import { PIPELINE_MAX_CALLS, type OutboundResponsePayload } from '../protocol/wire.js';
import type { CoalesceLimits, ResolvedConfig } from './config.js';
import { callOutboundAlone, checkPayload, MAX_READ_RETRIES, openAnswer, plainError, postForEnvelope, type OutboundCall } from './outbound-call.js';

export const PIPELINE_PATH = '/api/v2/proxy/pipeline';

/**
 * Sends one data-plane call: sessionless calls through the config's pipeliner (when coalescing
 * is on), everything else alone. The answer is the same either way.
 */
export function sendOutbound(cfg: ResolvedConfig, call: OutboundCall, signal?: AbortSignal): Promise<OutboundResponsePayload> {
  if (cfg.coalesce === null || call.sessionId) return callOutboundAlone(cfg, call, signal);
  return pipelinerFor(cfg, cfg.coalesce).submit(call, signal);
}

const pipeliners = new WeakMap<ResolvedConfig, OutboundPipeliner>();
function pipelinerFor(cfg: ResolvedConfig, limits: CoalesceLimits): OutboundPipeliner {
  let p = pipeliners.get(cfg);
  if (p === undefined) pipeliners.set(cfg, (p = new OutboundPipeliner(cfg, limits)));
  return p;
}

/**
 * A statement whose calls in a pipeline took (their median) at least SLOW_MS on their connection
 * and SLOW_FACTOR times as long as the pipeline's typical call held the others up. Once it has
 * done so in two pipelines running, or once by CLEARLY_SLOW_MS, it is sent alone for SLOW_FOR_MS,
 * as is one whose caller gave up waiting and a read whose answer was too large to share a
 * pipeline. One pause is not enough: on a saturated 2-core box a GC or compile pause now and then
 * made one call of a 2,000 q/s point SELECT look slow, and a single verdict sent every call of
 * that statement alone for 30 s, at half the throughput.
 */
const SLOW_MS = 20;
const SLOW_FACTOR = 4;
const CLEARLY_SLOW_MS = 100;
const SLOW_FOR_MS = 30_000;

/** What identifies a statement for that purpose: its operation and SQL text (params aside). */
function statementKey(call: OutboundCall): string {
  const p = call.payload as { sql?: unknown; statements?: Array<{ sql?: unknown }>; table?: unknown };
  const text = typeof p.sql === 'string' ? p.sql : Array.isArray(p.statements) ? p.statements.map((s) => String(s.sql)).join('\0') : String(p.table);
  return `${call.operation}\0${text}`;
}

interface Queued {
  call: OutboundCall;
  /** `{"operation":…,"payload":…}`, serialized once: a pipeline body is these joined. */
  json: string;
  key: string;
  signal: AbortSignal | undefined;
  settled: boolean;
  resolve(payload: OutboundResponsePayload): void;
  reject(err: unknown): void;
  onAbort?: () => void;
}

/**
 * Opportunistic pipelining of one-shot calls, the driver's counterpart of the server's batch
 * signing (DESIGN §8). While no exchange is in flight a call goes out at once, alone, exactly as
 * before: no added latency when idle. While exchanges are in flight, the calls of one event-loop
 * turn wait for its end and then travel together as one POST /api/v2/proxy/pipeline: one HTTP
 * exchange, one envelope, one verification for all of them. Nothing caps the exchanges in
 * flight, so a slow query never holds up the calls behind it. Under 32 concurrent callers most
 * of a call's cost was per exchange, on both sides; coalesced, a call costs a fraction of it.
 */
export class OutboundPipeliner {
  #inFlight = 0;
  #queue: Queued[] = [];
  #flushScheduled = false;
  /** The proxy has no pipeline route (an older one): every call goes alone from then on. */
  #unsupported = false;
  #maxBodyBytes: number;
  readonly #maxCalls: number;
  /** Bytes of a pipeline body with no calls (request ids are all of one length). */
  readonly #emptyBodyBytes: number;
  /** Statement key → until when it goes alone. Bounded in count and in key bytes. */
  readonly #slow = new LruCache<string, number>(1000, { maxWeight: 4 * 1024 * 1024, weigh: (k) => k.length * 2 });
  /** Statement key → when it held up a pipeline, once (a first strike; stale after SLOW_FOR_MS). */
  readonly #strikes = new LruCache<string, number>(1000, { maxWeight: 4 * 1024 * 1024, weigh: (k) => k.length * 2 });

  constructor(
    private readonly cfg: ResolvedConfig,
    limits: CoalesceLimits,
  ) {
    this.#maxCalls = Math.max(1, Math.min(PIPELINE_MAX_CALLS, Math.floor(limits.maxCalls)));
    this.#maxBodyBytes = limits.maxBodyBytes;
    this.#emptyBodyBytes = this.#pipelineBody(newId('request'), []).length;
  }

  submit(call: OutboundCall, signal?: AbortSignal): Promise<OutboundResponsePayload> {
    if (this.#unsupported || this.#maxCalls === 1 || (this.#inFlight === 0 && this.#queue.length === 0)) return this.#alone(call, signal);
    const key = statementKey(call);
    const slowUntil = this.#slow.get(key);
    if (slowUntil !== undefined && slowUntil > Date.now()) return this.#alone(call, signal);
    const json = JSON.stringify({ operation: call.operation, payload: call.payload });
    // Bytes, not characters, bound the body: a UTF-16 length can be up to 3x short of it.
    if (Buffer.byteLength(json, 'utf8') > this.#maxBodyBytes / 4) return this.#alone(call, signal);
    return new Promise((resolve, reject) => {
      const item: Queued = { call, json, key, signal, settled: false, resolve, reject };
      if (signal) {
        if (signal.aborted) {
          reject(signal.reason);
          return;
        }
        item.onAbort = () => {
          const i = this.#queue.indexOf(item);
          if (i !== -1) this.#queue.splice(i, 1);
          settle(item, () => reject(signal.reason));
        };
        signal.addEventListener('abort', item.onAbort, { once: true });
      }
      this.#queue.push(item);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  async #alone(call: OutboundCall, signal: AbortSignal | undefined): Promise<OutboundResponsePayload> {
    this.#inFlight++;
    try {
      return await callOutboundAlone(this.cfg, call, signal);
    } finally {
      this.#inFlight--;
    }
  }

  /** A queued call that goes alone after all; it settles whatever happens. */
  #sendAlone(q: Queued): void {
    void this.#alone(q.call, q.signal).then(
      (payload) => settle(q, () => q.resolve(payload)),
      (err: unknown) => settle(q, () => q.reject(err)),
    );
  }

  #flush(): void {
    this.#flushScheduled = false;
    while (this.#queue.length > 0) {
      const batch: Queued[] = [];
      // The body is the pipeline's own fields, then the calls with a comma between each two.
      let bytes = this.#emptyBodyBytes - 1;
      while (batch.length < this.#maxCalls && this.#queue.length > 0) {
        const next = this.#queue[0]!;
        const size = Buffer.byteLength(next.json, 'utf8') + 1;
        if (batch.length > 0 && bytes + size > this.#maxBodyBytes) break;
        batch.push(this.#queue.shift()!);
        bytes += size;
      }
      if (batch.length === 1) this.#sendAlone(batch[0]!);
      else void this.#exchange(batch);
    }
  }

  /** The POST /api/v2/proxy/pipeline body of `batch`, each call's JSON as serialized when queued. */
  #pipelineBody(requestId: string, batch: readonly Queued[]): Buffer {
    const head = JSON.stringify({ integration_id: this.cfg.integrationId, request_id: requestId, recipient_key_id: this.cfg.keys.recipient.keyId });
    return Buffer.from(`${head.slice(0, -1)},"calls":[${batch.map((q) => q.json).join(',')}]}`, 'utf8');
  }

  /** One pipeline exchange; settles every call of the batch, whatever happens. */
  async #exchange(batch: Queued[]): Promise<void> {
    this.#inFlight++;
    // The request is abandoned only when every call in it has been (query timeouts).
    const controller = new AbortController();
    const abandon = () => {
      if (batch.every((q) => q.settled)) controller.abort();
    };
    for (const q of batch) q.signal?.addEventListener('abort', abandon, { once: true });
    try {
      const answers = await this.#send(batch, controller.signal);
      if (answers === 'alone') {
        // Callers that gave up meanwhile are not sent again.
        for (const q of batch.filter((c) => !c.settled)) this.#sendAlone(q);
        return;
      }
      this.#judgeStatements(batch, answers);
      batch.forEach((q, i) => {
        const answer = answers[i]!;
        const tooLarge = withheldForSize(answer.payload) && q.call.operation === 'query';
        if (tooLarge || q.settled) this.#slow.set(q.key, Date.now() + SLOW_FOR_MS);
        // A read whose answer did not fit beside the others runs again alone (it changed nothing).
        if (tooLarge && !q.settled) this.#sendAlone(q);
        else settle(q, () => q.resolve(answer.payload));
      });
    } catch (err) {
      for (const q of batch) settle(q, () => q.reject(err));
    } finally {
      for (const q of batch) q.signal?.removeEventListener('abort', abandon);
      this.#inFlight--;
    }
  }

  /**
   * Which statements of an answered pipeline held it up (see SLOW_MS). Under load every call waits
   * on the busy server, so only a statement far slower than its companions did. A statement is
   * judged by the median of its own calls, so that one unlucky call of it is not the statement,
   * against the lower median of the other statements' calls (with two, the faster), so that a
   * slow statement that is most of its pipeline is not its own yardstick. Alone in its pipeline,
   * it held nobody up.
   */
  #judgeStatements(batch: readonly Queued[], answers: ReadonlyArray<{ elapsedMs: number }>): void {
    const byStatement = new Map<string, number[]>();
    batch.forEach((q, i) => {
      const times = byStatement.get(q.key);
      const elapsed = answers[i]?.elapsedMs ?? 0;
      if (times === undefined) byStatement.set(q.key, [elapsed]);
      else times.push(elapsed);
    });
    if (byStatement.size < 2) return;
    const now = Date.now();
    for (const [key, times] of byStatement) {
      const own = lowerMedian(times);
      const others = lowerMedian([...byStatement].flatMap(([k, t]) => (k === key ? [] : t)));
      if (own < SLOW_MS || own < SLOW_FACTOR * others) {
        this.#strikes.delete(key);
        continue;
      }
      const struck = this.#strikes.get(key);
      if (own < CLEARLY_SLOW_MS && (struck === undefined || now - struck > SLOW_FOR_MS)) {
        this.#strikes.set(key, now);
        continue;
      }
      this.#strikes.delete(key);
      this.#slow.set(key, now + SLOW_FOR_MS);
    }
  }

  /**
   * POSTs the batch and opens the one envelope against exactly the bytes sent. 'alone' when the
   * proxy refused the exchange before running anything in a way a lone call would not meet
   * (no pipeline route; a body limit below ours): the caller then sends each call alone.
   */
  async #send(batch: Queued[], signal: AbortSignal): Promise<Array<{ payload: OutboundResponsePayload; elapsedMs: number }> | 'alone'> {
    const cfg = this.cfg;
    // Like a lone read, a batch of reads is sent again, byte for byte, after a refused or reset connection.
    const attempts = batch.every((q) => q.call.operation === 'query') ? 1 + MAX_READ_RETRIES : 1;
    const requestId = newId('request');
    const body = this.#pipelineBody(requestId, batch);
    for (let attempt = 1; ; attempt++) {
      const res = await postForEnvelope(cfg, PIPELINE_PATH, body, signal, attempt < attempts);
      if (res === 'retry') continue;
      if (res.status !== 200) {
        // Only the proxy's own refusals, which come before any call ran, are safe to answer by
        // sending the calls again (writes included); a 404 page of something in between is not.
        const refusal = plainError(res.status, res.body);
        // After a reset, an earlier attempt may have run on another node: the calls are not sent
        // again as new requests (new ids), which no claim would recognise.
        if (attempt > 1) throw refusal;
        if (res.status === 404 && refusal.code === 'QS_NOT_FOUND') {
          this.#unsupported = true;
          return 'alone';
        }
        if (res.status === 413 && refusal.code === 'QS_BODY_TOO_LARGE') {
          // Lowered, never raised: another pipeline's 413 may already have lowered it further.
          this.#maxBodyBytes = Math.min(this.#maxBodyBytes, Math.max(16 * 1024, Math.floor(body.length / 2)));
          return 'alone';
        }
        throw refusal;
      }
      const payload = await openAnswer(cfg, res, requestId, body);
      const answers = (payload as { pipeline?: unknown } | null)?.pipeline;
      // Verified, so the proxy said this; a proxy that says it wrongly is still not believed.
      if (!Array.isArray(answers) || answers.length !== batch.length) {
        throw new QsError('QS_TRANSPORT', 'the QuantaSeal proxy answered a pipeline with a payload this driver does not understand');
      }
      return answers.map((a: unknown) => {
        const elapsed = (a as { elapsed_ms?: unknown } | null)?.elapsed_ms;
        return { payload: checkPayload(a), elapsedMs: typeof elapsed === 'number' ? elapsed : 0 };
      });
    }
  }
}

/** The proxy left this answer out of the pipeline for its size (QS_PIPELINE_ANSWER_TOO_LARGE). */
function withheldForSize(payload: OutboundResponsePayload): boolean {
  return 'error' in payload && payload.error.qs_code === 'QS_PIPELINE_ANSWER_TOO_LARGE';
}

/** The lower median: of two values, the smaller. */
function lowerMedian(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}

function settle(q: Queued, fn: () => void): void {
  if (q.settled) return;
  q.settled = true;
  if (q.onAbort) q.signal?.removeEventListener('abort', q.onAbort);
  fn();
}
