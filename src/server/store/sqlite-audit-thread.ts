import { Worker } from 'node:worker_threads';
import { QsError } from '../../protocol/errors.js';
import { isQsErrorCode } from '../../protocol/error-codes.js';
import { workerEntry } from '../worker-location.js';
import type { AuditAppendReply, AuditAppendRequest } from './sqlite-audit-worker.js';
import type { AuditEventInput, AuditEventRecord } from './store.js';

interface Waiter {
  resolve: (records: AuditEventRecord[]) => void;
  reject: (err: unknown) => void;
}

/**
 * The main-thread side of the audit writer thread (sqlite-audit-worker.ts): sends a batch, gets
 * the chained records back once they are committed. If the thread fails to start or dies,
 * `failed` says why and the store appends on its own connection instead.
 */
export class SqliteAuditThread {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiter>();
  #next = 1;
  #failed: Error | null = null;
  #closing: Promise<void> | null = null;

  constructor(path: string) {
    const { entry, eval: isEval } = workerEntry(import.meta.url, 'sqlite-audit-worker');
    // The thread only moves small batches to SQLite: a small heap keeps the proxy's RSS down.
    this.#worker = new Worker(entry, { workerData: { path }, eval: isEval, resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 } });
    this.#worker.on('message', (reply: AuditAppendReply) => {
      const waiter = this.#waiting.get(reply.id);
      if (waiter === undefined) return;
      this.#waiting.delete(reply.id);
      if ('records' in reply) waiter.resolve(reply.records);
      else {
        const { message, qsCode, code } = reply.error;
        waiter.reject(isQsErrorCode(qsCode) ? new QsError(qsCode, message) : Object.assign(new Error(message), { code }));
      }
    });
    const fail = (err: Error) => {
      if (this.#failed === null) process.emitWarning(`audit writer thread unavailable, committing on the main thread: ${err.message}`, { code: 'QS_AUDIT_INLINE' });
      this.#failed ??= err;
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => {
      if (this.#closing === null) fail(new Error(`the audit writer thread exited (code ${code})`));
    });
  }

  /** A batch is on its way or being committed (the thread holds or waits for the write lock). */
  get busy(): boolean {
    return this.#waiting.size > 0;
  }

  /** Why the thread cannot be used, or null while it can. */
  get failed(): Error | null {
    return this.#failed;
  }

  append(events: AuditEventInput[]): Promise<AuditEventRecord[]> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      const id = this.#next++;
      this.#waiting.set(id, { resolve, reject });
      this.#worker.postMessage({ id, events } satisfies AuditAppendRequest);
    });
  }

  /** Lets the batches in flight commit, then stops the thread. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#waiting.size > 0 && this.#failed === null) await new Promise((r) => setTimeout(r, 5));
      await this.#worker.terminate();
    })();
    return this.#closing;
  }
}
