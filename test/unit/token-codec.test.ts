import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isQsError } from '../../src/protocol/errors.js';
import type { StoredToken } from '../../src/server/store/store.js';
import { parseArrayLiteral, serializeArrayLiteral, type PgArray } from '../../src/server/tokenize/pg-array.js';
import { deriveTokenKeys, deterministicToken, parseToken, randomToken, type TokenColumn } from '../../src/server/tokenize/token-codec.js';
import { TokenService } from '../../src/server/tokenize/token-service.js';

const EMAIL: TokenColumn = { schema: 'public', table: 'users', column: 'email' };
const PHONE: TokenColumn = { schema: 'public', table: 'users', column: 'phone' };
const MODES = ['deterministic', 'random'] as const;

/** In-memory token vault and key source, the two things TokenService needs. */
function makeService(secrets = new Map<string, Uint8Array>()) {
  const vault = new Map<string, Uint8Array>();
  const service = new TokenService(
    {
      putToken: async (t: StoredToken) => {
        vault.set(`${t.tenantId}/${t.token}`, t.ciphertext);
      },
      getTokens: async (tenantId: string, tokens: string[]) => {
        const out = new Map<string, Uint8Array>();
        for (const t of tokens) {
          const c = vault.get(`${tenantId}/${t}`);
          if (c !== undefined) out.set(t, c);
        }
        return out;
      },
    },
    {
      tokenKey: async (tenantId: string) => {
        let secretKey = secrets.get(tenantId);
        if (secretKey === undefined) {
          secretKey = new Uint8Array(randomBytes(64));
          secrets.set(tenantId, secretKey);
        }
        return { keyId: `token_${tenantId}`, secretKey };
      },
    },
  );
  return { service, vault, secrets };
}

async function tokenize(service: TokenService, tenantId: string, column: TokenColumn, mode: (typeof MODES)[number], value: string): Promise<string> {
  const batch = await service.batch(tenantId);
  const token = batch.tokenize(column, mode, value);
  await batch.flush();
  return token;
}

async function expectTokenUnknown(p: Promise<unknown>): Promise<void> {
  const err: unknown = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isQsError(err) && err.code === 'QS_TOKEN_UNKNOWN', `expected QS_TOKEN_UNKNOWN, got ${String(err)}`).toBe(true);
}

// Any Unicode text PostgreSQL can hold (no NUL), including the empty string.
const text = fc.string({ unit: 'binary', maxLength: 200 }).filter((s) => !s.includes('\u0000'));

describe('token codec', () => {
  it('keeps the deterministic format stable (tokens outlive processes and nodes)', () => {
    const keys = deriveTokenKeys('ten_kat', new Uint8Array(64).map((_, i) => i));
    expect(deterministicToken(keys, EMAIL, 'alice@example.com')).toBe('tok_d1KrdaNdBdwrYnOYz7zziOeKzqTDoVfq2G08cdCJ3hGPY7');
    expect(deterministicToken(keys, EMAIL, '')).toBe('tok_d1XXMBEZrSNPwIH9fqxTtW3Q');
  });

  it('marks each token with its kind and nothing else parses as one', () => {
    expect(randomToken()).toMatch(/^tok_r1[A-Za-z0-9_-]{22}$/);
    expect(parseToken(randomToken())?.kind).toBe('random');
    expect(parseToken('tok_d1XXMBEZrSNPwIH9fqxTtW3Q')?.kind).toBe('deterministic');
    for (const bad of ['', 'tok_', 'tok_d1', 'tok_x1AAAAAAAAAAAAAAAAAAAAAA', 'tok_r1AAAA', 'tok_d1XXMBEZrSNPwIH9fqxTtW3Q=', 'tok_d1XXMBEZ rSNPwIH9fqxTtW3Q', 'alice@example.com']) {
      expect(parseToken(bad), bad).toBeNull();
    }
  });

  for (const mode of MODES) {
    it(`round-trips any value through a ${mode} token`, async () => {
      const { service } = makeService();
      await fc.assert(
        fc.asyncProperty(text, async (value) => {
          const token = await tokenize(service, 'ten_a', EMAIL, mode, value);
          expect(token.startsWith(mode === 'deterministic' ? 'tok_d1' : 'tok_r1')).toBe(true);
          expect(await service.detokenize('ten_a', [{ column: EMAIL, text: token }])).toEqual([value]);
        }),
      );
    });

    it(`does not open a ${mode} token under another tenant's key`, async () => {
      const { service, vault } = makeService();
      await fc.assert(
        fc.asyncProperty(text, async (value) => {
          const token = await tokenize(service, 'ten_a', EMAIL, mode, value);
          const copy = vault.get(`ten_a/${token}`);
          // Even with the vault row copied over to the other tenant.
          if (copy !== undefined) vault.set(`ten_b/${token}`, copy);
          await expectTokenUnknown(service.detokenize('ten_b', [{ column: EMAIL, text: token }]));
        }),
        { numRuns: 50 },
      );
    });

    it(`does not open a ${mode} token read from another column`, async () => {
      const { service } = makeService();
      const token = await tokenize(service, 'ten_a', EMAIL, mode, 'alice@example.com');
      await expectTokenUnknown(service.detokenize('ten_a', [{ column: PHONE, text: token }]));
    });

    it(`refuses a tampered ${mode} token`, async () => {
      const { service } = makeService();
      await fc.assert(
        fc.asyncProperty(text, fc.nat(), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), async (value, at, ch) => {
          const token = await tokenize(service, 'ten_a', EMAIL, mode, value);
          const i = 6 + (at % (token.length - 6));
          fc.pre(token[i] !== ch);
          const tampered = token.slice(0, i) + ch + token.slice(i + 1);
          await expectTokenUnknown(service.detokenize('ten_a', [{ column: EMAIL, text: tampered }]));
        }),
        { numRuns: 50 },
      );
    });
  }

  it('gives distinct values distinct deterministic tokens in one column', async () => {
    const { service } = makeService();
    const keys = await service.keys('ten_a');
    fc.assert(
      fc.property(fc.uniqueArray(text, { minLength: 2, maxLength: 30 }), (values) => {
        expect(new Set(values.map((v) => deterministicToken(keys, EMAIL, v))).size).toBe(values.length);
      }),
    );
  });

  it('gives equal values equal tokens per column, and different tokens in another column or tenant', async () => {
    const { service } = makeService();
    const a = await service.keys('ten_a');
    const b = await service.keys('ten_b');
    fc.assert(
      fc.property(text, (value) => {
        expect(deterministicToken(a, EMAIL, value)).toBe(deterministicToken(a, EMAIL, value));
        expect(deterministicToken(a, EMAIL, value)).not.toBe(deterministicToken(a, PHONE, value));
        expect(deterministicToken(a, EMAIL, value)).not.toBe(deterministicToken(b, EMAIL, value));
      }),
    );
  });

  it('tokenizes a value that already looks like a token (no double interpretation)', async () => {
    const { service } = makeService();
    const inner = await tokenize(service, 'ten_a', EMAIL, 'deterministic', 'alice@example.com');
    const outer = await tokenize(service, 'ten_a', EMAIL, 'deterministic', inner);
    expect(outer).not.toBe(inner);
    expect(await service.detokenize('ten_a', [{ column: EMAIL, text: outer }])).toEqual([inner]);
  });

  it('refuses plaintext and unknown random tokens found in a tokenized column', async () => {
    const { service } = makeService();
    await expectTokenUnknown(service.detokenize('ten_a', [{ column: EMAIL, text: 'alice@example.com' }]));
    await expectTokenUnknown(service.detokenize('ten_a', [{ column: EMAIL, text: randomToken() }]));
  });

  it("strips char(n)'s blank padding before opening", async () => {
    const { service } = makeService();
    const token = await tokenize(service, 'ten_a', EMAIL, 'deterministic', 'bob');
    expect(await service.detokenize('ten_a', [{ column: EMAIL, text: `${token}    ` }])).toEqual(['bob']);
  });

  it('detokenizes a mixed batch in order', async () => {
    const { service } = makeService();
    const values = ['a', 'b', '', 'ünïcødé ✓', 'd'];
    const reads = await Promise.all(values.map(async (v, i) => ({ column: EMAIL, text: await tokenize(service, 'ten_a', EMAIL, MODES[i % 2] ?? 'random', v) })));
    expect(await service.detokenize('ten_a', reads)).toEqual(values);
  });
});

describe('array literals', () => {
  const element = fc.oneof(fc.constant(null), fc.string({ unit: 'binary', maxLength: 20 }));
  const { arr } = fc.letrec<{ arr: PgArray }>((tie) => ({
    arr: fc.array(fc.oneof({ depthSize: 'small' }, element, tie('arr')), { maxLength: 6 }) as fc.Arbitrary<PgArray>,
  }));

  it('round-trips serialize → parse', () => {
    fc.assert(
      fc.property(arr, (value) => {
        expect(parseArrayLiteral(serializeArrayLiteral(value))).toEqual(value);
      }),
    );
  });

  it('reads what drivers and people write', () => {
    const cases: Array<[string, PgArray]> = [
      ['{}', []],
      [' { } ', []],
      ['{a,b,c}', ['a', 'b', 'c']],
      ['{ a , b }', ['a', 'b']],
      ['{"c d",NULL,null,"NULL"}', ['c d', null, null, 'NULL']],
      ['{"say \\"hi\\"","back\\\\slash"}', ['say "hi"', 'back\\slash']],
      ['{a\\,b,x\\ }', ['a,b', 'x ']],
      ['{\\NULL}', ['NULL']],
      ['{{1,2},{3,4}}', [['1', '2'], ['3', '4']]],
      ['{""}', ['']],
    ];
    for (const [text, expected] of cases) expect(parseArrayLiteral(text), text).toEqual(expected);
  });

  it('refuses malformed literals', () => {
    for (const text of ['', 'a', '{', '{a', '{a,,b}', '{a}x', '{"a}', '{a"b}', '[1:2]={a,b}', '{a,}', '{,a}', '{a\\']) {
      let err: unknown;
      try {
        parseArrayLiteral(text);
      } catch (e) {
        err = e;
      }
      expect(isQsError(err) && err.code === 'QS_TOKENIZATION_UNSUPPORTED', text).toBe(true);
    }
  });

  it('serializes every element quoted, so values are never read as NULL', () => {
    expect(serializeArrayLiteral(['NULL', null, 'a"b', 'c\\d', ['x']])).toBe('{"NULL",NULL,"a\\"b","c\\\\d",{"x"}}');
  });
});
