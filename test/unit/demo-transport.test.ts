import { describe, expect, it } from 'vitest';
import { recordingTransport } from '../../src/cli/demo-transport.js';
import type { QsTransport } from '../../src/client/transport.js';
import { sealWireEnvelope } from '../../src/protocol/envelope.js';
import { ENVELOPE_BINARY_MEDIA_TYPE } from '../../src/protocol/wire-envelope.js';
import { envelopeFixture } from '../helpers/envelope-fixture.js';

/** The dev demo labels each step with the envelope that answered it, in either wire form. */
describe('the dev demo transport', () => {
  it('names the request and audit event of binary and JSON envelopes, and nothing else', async () => {
    const fx = await envelopeFixture();
    const backend = fx.openOptions.backend!;
    const wire = await sealWireEnvelope(fx.sealInput, { backend });
    const json = 'application/json; charset=utf-8';
    const answers = [
      { body: wire.toBinary(), contentType: ENVELOPE_BINARY_MEDIA_TYPE },
      { body: Buffer.from(JSON.stringify(wire.toJSON())), contentType: json },
      { body: Buffer.from('{"success":false,"error":{"code":"QS_UNAUTHENTICATED"}}'), contentType: json },
      { body: Buffer.from('QSE2garbage'), contentType: ENVELOPE_BINARY_MEDIA_TYPE },
    ];
    let next = 0;
    const inner: QsTransport = { request: async () => ({ status: 200, ...answers[next++]! }) };
    const rec = recordingTransport(inner);
    const labels: string[] = [];
    for (let i = 0; i < answers.length; i++) {
      await rec.transport.request({ method: 'POST', path: '/', headers: {} });
      labels.push(rec.last());
    }
    const expected = `envelope ${fx.sealInput.context.request_id} ✓ verified · audit ${fx.sealInput.auditEventId}`;
    expect(labels).toEqual([expected, expected, '', '']);
  });
});
