import { httpTransport, type QsTransport } from '../../src/client/transport.js';

/** The default transport, counting the requests to each path and optionally refusing pipelines. */
export function countingTransport(url: string, opts: { refusePipeline?: number } = {}): QsTransport & { paths: string[]; sent: Array<{ path: string; body: string }> } {
  const inner = httpTransport(new URL(url).origin);
  const paths: string[] = [];
  const sent: Array<{ path: string; body: string }> = [];
  return {
    paths,
    sent,
    async request(req) {
      paths.push(req.path);
      sent.push({ path: req.path, body: req.body?.toString('utf8') ?? '' });
      if (opts.refusePipeline !== undefined && req.path.endsWith('/pipeline')) {
        // What the proxy itself answers: fastify's 404 for an unknown route, its 413 for a body over the limit.
        const code = opts.refusePipeline === 413 ? 'QS_BODY_TOO_LARGE' : opts.refusePipeline === 404 ? 'QS_NOT_FOUND' : 'QS_TRANSPORT';
        return { status: opts.refusePipeline, body: Buffer.from(JSON.stringify({ success: false, error: { code, message: 'refused' } })), contentType: 'application/json' };
      }
      return inner.request(req);
    },
  };
}
