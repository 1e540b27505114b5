/**
 * Sealing throughput and event-loop delay with signing workers on/off and batch signing on/off
 * (DESIGN §8). Not a test: prints a table. Seals N envelopes with C in flight per configuration.
 *
 *   node --import tsx bench/batch-signing-measure.ts [--backend pqclean|noble|…] [--n 2000] [--concurrency 32]
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { setCryptoBackend, type BackendChoice } from '../src/crypto/select-backend.js';
import { sealEnvelope, type SealEnvelopeInput } from '../src/protocol/envelope.js';
import { deriveResponseHmacKey, generateRecipientKeyPair, generateSigningKeyPair } from '../src/protocol/keys.js';
import { BatchSigner } from '../src/server/signing/batch-signer.js';

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'auto' }, n: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '32' } } });
const total = Number(values.n);
const concurrency = Number(values.concurrency);
const { backend } = setCryptoBackend(values.backend as BackendChoice);

const signer = await generateSigningKeyPair(backend);
const recipient = await generateRecipientKeyPair(backend);
const tenantId = 'ten_01JZ0000000000000000000000';
const payload = { results: [{ command: 'SELECT', rowCount: 1, oid: null, fields: [{ name: 'id', tableID: 16384, columnID: 1, dataTypeID: 23, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' }], rows: [['1', 'tok_abc', '2026-11-29 04:00:00+00']] }], session_id: null };
let seq = 0;
const input = (): SealEnvelopeInput => ({
  payload,
  tenantId,
  context: { request_id: `req_${seq++}`, integration_id: 'int_01JZ0000000000000000000002', operation: 'query', request_sha256: 'ab'.repeat(32) },
  recipient: { keyId: recipient.keyId, publicKey: recipient.publicKey },
  signer: { keyId: signer.keyId, secretKey: signer.secretKey },
  hmacKey: deriveResponseHmacKey('qs_test_bench', tenantId),
  auditEventId: 'aud_01JZ0000000000000000000003',
});

async function run(label: string, seal: (i: SealEnvelopeInput) => Promise<unknown>, signatures: () => number | undefined) {
  // Warm-up: JIT, worker start, backend self-test in the workers.
  await Promise.all(Array.from({ length: 64 }, () => seal(input())));
  const sigBefore = signatures() ?? 0;
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) {
        // Each request reaches the sealer from I/O, as on the server: the loop turns between them
        // (without this the whole run is one microtask chain and the delay histogram stays empty).
        await nextTurn();
        await seal(input());
      }
    }),
  );
  const ms = performance.now() - t0;
  h.disable();
  const sigs = signatures();
  return {
    config: label,
    'env/s': Math.round((total / ms) * 1000),
    'loop p99 ms': +(h.percentile(99) / 1e6).toFixed(2),
    'loop max ms': +(h.max / 1e6).toFixed(2),
    'ML-DSA sigs': sigs === undefined ? total : sigs - sigBefore,
  };
}

const rows = [];
rows.push(await run('sealEnvelope (before §8)', (i) => sealEnvelope(i, { backend }), () => undefined));
for (const workers of [0, 1, 2]) {
  for (const batching of [false, true]) {
    for (const kemInWorkers of workers > 0 ? [false, true] : [false]) {
      const s = await BatchSigner.create({ backend, workers, batching, kemInWorkers });
      rows.push(await run(`workers=${workers}${s.mode.mode === 'inline' && workers > 0 ? '(FELL BACK)' : ''} batching=${batching ? 'on' : 'off'}${kemInWorkers ? ' kem→worker' : ''}`, (i) => s.seal(i), () => s.stats().signatures));
      await s.destroy();
    }
  }
}
console.log(`backend ${backend.name} (${backend.detail}), ${total} envelopes, ${concurrency} in flight, Node ${process.version}`);
console.table(rows);
