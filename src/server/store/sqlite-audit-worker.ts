/**
 * The SQLite store's audit writer thread. Audit commits use `synchronous = FULL` (the event is
 * durable before the answer leaves), and an fsync on the event loop stalls every other request:
 * under 32 requests in flight it was 40% of the proxy's main-thread time. Here the commit waits
 * on its own thread, on its own connection to the same WAL file, while the loop keeps serving.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { auditHasher } from '../audit/audit-chain.js';
import { isQsError } from '../../protocol/errors.js';
import { appendAuditBatch } from './sqlite-audit-append.js';
import { loadSqlite } from './sqlite-driver.js';
import type { AuditEventInput } from './store.js';

export interface AuditAppendRequest {
  id: number;
  events: AuditEventInput[];
}

export type AuditAppendReply =
  | { id: number; records: ReturnType<typeof appendAuditBatch> }
  | { id: number; error: { message: string; qsCode?: string; code?: string } };

const { path } = workerData as { path: string };
const Database = loadSqlite();
const db = new Database(path, { timeout: 5000 });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');

parentPort?.on('message', (req: AuditAppendRequest) => {
  let reply: AuditAppendReply;
  try {
    reply = { id: req.id, records: appendAuditBatch(db, req.events, auditHasher) };
  } catch (err) {
    reply = {
      id: req.id,
      error: { message: (err as Error).message, ...(isQsError(err) ? { qsCode: err.code } : {}), code: (err as { code?: string }).code },
    };
  }
  parentPort?.postMessage(reply);
});
