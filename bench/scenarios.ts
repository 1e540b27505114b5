import type { Kysely } from 'kysely';
import type pg from 'pg';
import { ACCOUNT_ROWS, signupEmail, SIGNUP_ROWS, USER_ROWS, type BenchDb, type BenchSchema } from './bench-schema.js';
import type { TargetId } from './bench-target.js';
import { pickId } from './seeded-random.js';

/** The scenarios, in report order. */
export const SCENARIO_IDS = ['select-pk-1', 'select-pk-32', 'insert', 'insert-tokenized', 'select-detokenized', 'select-10k', 'kysely-txn'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

/** What an operation runs against. */
export interface ScenarioContext {
  targetId: TargetId;
  pool: pg.Pool;
  /** Kysely over the same pool (PostgresDialect), scoped to the bench schema. */
  db: Kysely<BenchDb>;
  schema: BenchSchema;
  /** The table of the tokenized scenarios (see BenchTarget.enableTokenization). */
  tokenizedTable: string;
}

/** One measured operation; `rand` is the worker's seeded PRNG. Throws if the answer is wrong. */
export type Operation = (rand: () => number) => Promise<void>;

export interface Scenario {
  id: ScenarioId;
  title: string;
  /** Operations in flight at once. */
  concurrency: number;
  /** Runs on the target's tokenized table (after `enableTokenization`). */
  tokenized: boolean;
  /** For a tokenized scenario: the same statement on an untokenized table, to show the cost. */
  untokenizedTwin?: ScenarioId;
  /**
   * Also measure the middle process's RSS in one continuous run after the slices: between slices
   * a proxy idles and V8 shrinks its heap, so short slices alone would under-state memory under
   * sustained load.
   */
  sustainedRss?: boolean;
  build(ctx: ScenarioContext): Operation;
}

const expect = (ok: boolean, what: string) => {
  if (!ok) throw new Error(`wrong answer: ${what}`);
};

const pointSelect = (ctx: ScenarioContext): Operation => {
  const sql = `SELECT id, email, name FROM ${ctx.schema.table('users')} WHERE id = $1`;
  return async (rand) => {
    const id = pickId(rand, USER_ROWS);
    const { rows } = await ctx.pool.query<{ id: number }>(sql, [id]);
    expect(rows.length === 1 && rows[0]?.id === id, `point SELECT of id ${id}`);
  };
};

const insertInto = (ctx: ScenarioContext, table: string): Operation => {
  const sql = `INSERT INTO ${ctx.schema.table(table)} (email, name) VALUES ($1, $2)`;
  let n = 0;
  return async () => {
    n++;
    const r = await ctx.pool.query(sql, [`new-${ctx.targetId}-${n}@example.com`, `New signup ${n}`]);
    expect(r.rowCount === 1, 'INSERT rowCount');
  };
};

export const SCENARIOS: readonly Scenario[] = [
  { id: 'select-pk-1', title: 'point SELECT by PK, 1 in flight', concurrency: 1, tokenized: false, build: pointSelect },
  { id: 'select-pk-32', title: 'point SELECT by PK, 32 in flight', concurrency: 32, tokenized: false, sustainedRss: true, build: pointSelect },
  { id: 'insert', title: 'single-row INSERT', concurrency: 1, tokenized: false, build: (ctx) => insertInto(ctx, 'signups') },
  {
    id: 'insert-tokenized',
    title: 'tokenized INSERT',
    concurrency: 1,
    tokenized: true,
    untokenizedTwin: 'insert',
    build: (ctx) => insertInto(ctx, ctx.tokenizedTable),
  },
  {
    id: 'select-detokenized',
    title: 'detokenized SELECT by PK',
    concurrency: 1,
    tokenized: true,
    untokenizedTwin: 'select-pk-1',
    build: (ctx) => {
      const sql = `SELECT id, email, name FROM ${ctx.schema.table(ctx.tokenizedTable)} WHERE id = $1`;
      return async (rand) => {
        const id = pickId(rand, SIGNUP_ROWS);
        const { rows } = await ctx.pool.query<{ email: string }>(sql, [id]);
        expect(rows[0]?.email === signupEmail(id), `detokenized e-mail of id ${id}`);
      };
    },
  },
  {
    id: 'select-10k',
    title: '10,000-row SELECT',
    concurrency: 1,
    tokenized: false,
    build: (ctx) => {
      const sql = `SELECT id, email, name FROM ${ctx.schema.table('users')}`;
      return async () => {
        const { rows } = await ctx.pool.query(sql);
        expect(rows.length === USER_ROWS, `${USER_ROWS} rows`);
      };
    },
  },
  {
    id: 'kysely-txn',
    title: 'Kysely transaction, 3 statements',
    concurrency: 1,
    tokenized: false,
    build: (ctx) => async (rand) => {
      const id = pickId(rand, ACCOUNT_ROWS);
      await ctx.db.transaction().execute(async (trx) => {
        const account = await trx.selectFrom('accounts').select('balance').where('id', '=', id).executeTakeFirstOrThrow();
        await trx.updateTable('accounts').set({ balance: account.balance + 1 }).where('id', '=', id).execute();
        await trx.insertInto('ledger').values({ account_id: id, delta: 1 }).execute();
      });
    },
  },
];
