import type { AuditEventInput, AuditEventRecord, Store } from '../store/store.js';
import { auditHasher } from './audit-chain.js';

/** NUL is not storable in PostgreSQL text and has no business in an audit field. */
const clean = (v: string | null): string | null => (v === null ? null : v.replaceAll('\u0000', '\uFFFD'));

function sanitize(e: AuditEventInput): AuditEventInput {
  return { ...e, integrationId: clean(e.integrationId), operation: clean(e.operation), requestId: clean(e.requestId), route: clean(e.route) ?? '', fingerprint: clean(e.fingerprint), qsCode: clean(e.qsCode), sqlstate: clean(e.sqlstate) };
}

interface Pending {
  event: AuditEventInput;
  mustNotBlock: boolean;
  resolve: (r: AuditEventRecord) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit for audit events: `append` resolves only once the event is durable; the events of
 * one event-loop turn, and every event appended while a commit is in flight, share the next
 * commit, so under load many answers share a single transaction instead of one fsync each.
 */
export class AuditWriter {
  #pending: Pending[] = [];
  #flushing: Promise<void> | null = null;
  #written = 0;

  constructor(private readonly store: Store) {}

  /**
   * Resolves once the event is durable. `mustNotBlock`: the caller has work to run meanwhile, so
   * the store must not commit synchronously on this thread (see AuditAppendOptions).
   */
  append(event: AuditEventInput, opts: { mustNotBlock?: boolean } = {}): Promise<AuditEventRecord> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ event: sanitize(event), mustNotBlock: opts.mustNotBlock === true, resolve, reject });
      // The first commit waits for the end of this turn of the event loop (setImmediate, no
      // timer), so the events of one burst of I/O share it. Without that wait a lone event can
      // commit in place (the SQLite store does when its writer thread is idle), blocking the loop
      // so that the next event is lone again: at 32 requests in flight every commit ran on the
      // main thread, one event at a time.
      if (this.#flushing === null) this.#flushing = new Promise<void>((r) => setImmediate(r)).then(() => this.#drain());
    });
  }

  /** Events written since start (for metrics). */
  get written(): number {
    return this.#written;
  }

  /** Resolves when everything appended so far is durable (clean shutdown). */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending;
        this.#pending = [];
        try {
          const stored = await this.store.appendAuditEvents(
            batch.map((p) => p.event),
            auditHasher,
            { mustNotBlock: batch.some((p) => p.mustNotBlock) },
          );
          this.#written += stored.length;
          const byId = new Map(stored.map((r) => [r.id, r]));
          for (const p of batch) {
            const r = byId.get(p.event.id);
            if (r) p.resolve(r);
            else p.reject(new Error('audit event missing from committed batch'));
          }
        } catch (err) {
          if (batch.length === 1) {
            batch[0]?.reject(err);
            continue;
          }
          // One bad event (or a tenant's odd input) must not fail everybody else's answer:
          // retry each event of the failed batch on its own.
          await Promise.all(
            batch.map(async (p) => {
              try {
                const [r] = await this.store.appendAuditEvents([p.event], auditHasher, { mustNotBlock: true });
                this.#written++;
                if (r) p.resolve(r);
                else p.reject(err);
              } catch (single) {
                p.reject(single);
              }
            }),
          );
        }
      }
    } finally {
      this.#flushing = null;
    }
  }
}
