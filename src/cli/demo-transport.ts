import type { QsTransport } from '../client/transport.js';
import { decodeBinaryEnvelope, isBinaryEnvelopeType } from '../protocol/wire-envelope.js';

/**
 * Wraps a transport to show which envelope and audit event answered each step of the dev demo.
 * `last()` is read after the driver has verified the answer (it throws otherwise), hence "verified".
 */
export function recordingTransport(inner: QsTransport): { transport: QsTransport; last: () => string } {
  let last = '';
  return {
    transport: {
      request: async (req) => {
        const res = await inner.request(req);
        last = label(res.body, res.contentType);
        return res;
      },
    },
    last: () => last,
  };
}

function label(body: Buffer, contentType: string | undefined): string {
  // The driver asks for the binary form, whose header is the JSON envelope minus the ciphertext.
  let env: { context?: { request_id?: string }; audit_event_id?: string } | null;
  try {
    env = isBinaryEnvelopeType(contentType) ? (decodeBinaryEnvelope(body)?.header ?? null) : (JSON.parse(body.toString('utf8')) as typeof env);
  } catch {
    env = null;
  }
  return env?.audit_event_id ? `envelope ${env.context?.request_id} ✓ verified · audit ${env.audit_event_id}` : '';
}
