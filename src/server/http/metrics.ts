import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one server instance (its own registry, so tests can run several). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'quantaseal_http_requests_total',
    help: 'HTTP requests by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly proxyCalls = new Counter({
    name: 'quantaseal_proxy_calls_total',
    help: 'Proxy calls by operation and outcome',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly pipelineWithheld = new Counter({
    name: 'quantaseal_pipeline_answers_withheld_total',
    help: 'Answers to reads left out of a pipeline over QS_PIPELINE_ANSWER_LIMIT (the driver runs them again alone)',
    registers: [this.registry],
  });
  readonly proxyDuration = new Histogram({
    name: 'quantaseal_proxy_duration_seconds',
    help: 'Time from request to sealed answer',
    labelNames: ['operation'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });
  readonly sealDuration = new Histogram({
    name: 'quantaseal_envelope_seal_seconds',
    help: 'Time to seal and sign one envelope',
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05],
    registers: [this.registry],
  });
  readonly signerEnvelopes = new Gauge({
    name: 'quantaseal_signer_envelopes',
    help: 'Envelopes signed since start (divided by quantaseal_signer_signatures: the average batch)',
    registers: [this.registry],
  });
  readonly signerSignatures = new Gauge({
    name: 'quantaseal_signer_signatures',
    help: 'ML-DSA-65 signatures made since start (one per envelope when idle, one per batch under load)',
    registers: [this.registry],
  });
  readonly sessions = new Gauge({
    name: 'quantaseal_sessions_open',
    help: 'Open pinned sessions',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'quantaseal_' });
  }
}
