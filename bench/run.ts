/**
 * `npm run bench [-- --quick] [-- --update-readme] [-- --targets direct,qspool-pqclean]`
 *
 * Direct pg, pgbouncer and QsPool with each crypto backend against the same PostgreSQL, through
 * the same scenarios (bench/scenarios.ts). All targets run side by side; each scenario is measured
 * in slices, one target after the other (bench/run-scenarios.ts). Prints a table and writes
 * bench/results/latest.{json,svg,md}. Exits 1 if any cell failed (skips are not failures).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createBenchSchema, dropBenchSchema, postgresVersion, type BenchSchema } from './bench-schema.js';
import type { BenchReport, CellResult } from './bench-result.js';
import { DEFAULT_TARGET_IDS, TARGET_IDS, type BenchTarget, type SkippedTarget, type TargetId } from './bench-target.js';
import { killAllChildren } from './child-processes.js';
import { addDirectRatios } from './compare-direct.js';
import { checkIssueTargets } from './issue-targets.js';
import { machineInfo } from './machine-info.js';
import { processRssMb, stealMeter } from './proc-stats.js';
import { summarizeProfiles } from './profile-summary.js';
import { updateReadmeSection } from './readme-section.js';
import { reportNotes } from './report-notes.js';
import { barChartSvg } from './report-svg.js';
import { consoleTable, markdownReport } from './report-table.js';
import { runScenarios, type RunTiming } from './run-scenarios.js';
import { SCENARIO_IDS, SCENARIOS } from './scenarios.js';
import { startDirectTarget } from './target-direct.js';
import { startPgbouncerTarget } from './target-pgbouncer.js';
import { startQsPoolTarget } from './target-qspool.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = path.join(repoRoot, 'bench', 'results');
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    'update-readme': { type: 'boolean' },
    targets: { type: 'string' },
    scenarios: { type: 'string' },
    profile: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (flags.help) {
  console.log(
    [
      'npm run bench [-- options]',
      '  --quick           short cells (a smoke test that every cell works)',
      `  --targets a,b     only these (${TARGET_IDS.join(', ')}; default all but qspool-pqclean-package)`,
      `  --scenarios a,b   only these (${SCENARIO_IDS.join(', ')})`,
      '  --profile         CPU-profile each proxy (bench/results/profiles/<target>/) and print where its time went',
      '  --update-readme   put the table between the bench markers of README.md',
    ].join('\n'),
  );
  process.exit(0);
}
const wanted = new Set<string>(flags.targets?.split(',').map((s) => s.trim()) ?? DEFAULT_TARGET_IDS);
const wantedScenarios = new Set<string>(flags.scenarios?.split(',').map((s) => s.trim()) ?? SCENARIO_IDS);
for (const s of wantedScenarios) if (!(SCENARIO_IDS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s} (known: ${SCENARIO_IDS.join(', ')})`);
for (const t of wanted) if (!(TARGET_IDS as readonly string[]).includes(t)) throw new Error(`unknown target ${t} (known: ${TARGET_IDS.join(', ')})`);

// Full: ~3 minutes for 4 targets × 7 scenarios on 2 cores (each target: 10 s of warm-up; each
// cell: 4 slices of 0.25 s warm-up + 0.75 s measured; RSS under 32 in flight: 4 s continuous).
// Quick: a smoke test that every cell works.
const timing: RunTiming = flags.quick
  ? { targetWarmupMs: 400, warmupMs: 100, measureMs: 400, slices: 2, sustainedRssMs: 400 }
  : { targetWarmupMs: 10_000, warmupMs: 250, measureMs: 3000, slices: 4, sustainedRssMs: 4000 };

const profileDir = (id: TargetId) => path.join(resultsDir, 'profiles', id);
function profileOpts(id: TargetId): { cpuProfDir?: string } {
  if (!flags.profile) return {};
  rmSync(profileDir(id), { recursive: true, force: true });
  mkdirSync(profileDir(id), { recursive: true });
  return { cpuProfDir: profileDir(id) };
}

const starters: Record<TargetId, (schema: BenchSchema) => Promise<BenchTarget | SkippedTarget>> = {
  direct: () => Promise.resolve(startDirectTarget(databaseUrl)),
  pgbouncer: () => startPgbouncerTarget(databaseUrl),
  'qspool-noble': (schema) => startQsPoolTarget('noble', databaseUrl, schema, profileOpts('qspool-noble')),
  'qspool-pqclean': (schema) => startQsPoolTarget('pqclean', databaseUrl, schema, profileOpts('qspool-pqclean')),
  'qspool-pqclean-package': (schema) => startQsPoolTarget('pqclean-package', databaseUrl, schema, profileOpts('qspool-pqclean-package')),
  'qspool-node': (schema) => startQsPoolTarget('node', databaseUrl, schema, profileOpts('qspool-node')),
};
const labels: Record<TargetId, string> = {
  direct: 'direct pg',
  pgbouncer: 'pgbouncer',
  'qspool-noble': 'QsPool/noble',
  'qspool-pqclean': 'QsPool/pqclean',
  'qspool-pqclean-package': 'QsPool/pqclean-package',
  'qspool-node': 'QsPool/node',
};

let schema: BenchSchema | undefined;

// Ctrl-C or a kill: stop the children at once, drop the schema if it can be done quickly.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllChildren();
    const drop = schema ? dropBenchSchema(databaseUrl, schema).catch(() => undefined) : Promise.resolve();
    void Promise.race([drop, new Promise((r) => setTimeout(r, 3000))]).then(() => process.exit(130));
  });
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<number> {
  const started = Date.now();
  const loadAtStart = os.loadavg()[0] ?? 0;
  const steal = stealMeter();
  const pgVersion = await postgresVersion(databaseUrl);
  schema = await createBenchSchema(databaseUrl);
  const cells: CellResult[] = [];
  const notes: string[] = [];
  const targets: BenchReport['targets'] = [];
  const profiles: string[] = [];
  progress(
    `bench (${flags.quick ? 'quick' : 'full'}): ${timing.targetWarmupMs / 1000} s of warm-up per target, then ${timing.slices} slices of ${timing.warmupMs} ms warm-up + ${timing.measureMs / timing.slices} ms per cell, schema ${schema.name}`,
  );
  const running: BenchTarget[] = [];
  try {
    for (const id of TARGET_IDS.filter((t) => wanted.has(t))) {
      let target: BenchTarget | SkippedTarget;
      try {
        target = await starters[id](schema);
      } catch (err) {
        const note = `could not start: ${(err as Error).message}`;
        targets.push({ id, label: labels[id], note });
        for (const s of SCENARIOS) cells.push({ scenario: s.id, target: id, status: 'error', note });
        progress(`  ${labels[id]}: ${note}`);
        continue;
      }
      if (!('pool' in target)) {
        targets.push({ id, label: target.label, note: target.note });
        notes.push(`${target.label} skipped: ${target.note}`);
        for (const s of SCENARIOS) cells.push({ scenario: s.id, target: id, status: 'skipped', note: target.note });
        progress(`  ${target.label}: ${target.note}`);
        continue;
      }
      running.push(target);
      const idleRss = target.middlePid === undefined ? undefined : processRssMb(target.middlePid);
      targets.push({ id, label: target.label, detail: target.detail, ...(idleRss === undefined ? {} : { middleRssIdleMb: Math.round(idleRss) }) });
      progress(`${target.label}: ${target.detail}${idleRss === undefined ? '' : `; idle RSS ${idleRss.toFixed(0)} MB`}`);
    }
    await runScenarios(running, schema, { cells, notes }, timing, progress, wantedScenarios);
  } finally {
    // Every proxy exits before its profile is read (V8 writes it at exit).
    await Promise.all(running.map((t) => t.close()));
    await dropBenchSchema(databaseUrl, schema);
  }
  for (const target of running) {
    if (flags.profile && target.id.startsWith('qspool-')) profiles.push(`${target.label} proxy CPU profile:\n${summarizeProfiles(profileDir(target.id))}`);
  }

  addDirectRatios(cells);
  const report: BenchReport = {
    mode: flags.quick ? 'quick' : 'full',
    targetWarmupMs: timing.targetWarmupMs,
    measureMs: timing.measureMs,
    warmupMs: timing.warmupMs,
    slices: timing.slices,
    machine: withSteal(machineInfo(pgVersion, repoRoot, loadAtStart), steal.stop()),
    targets,
    scenarios: SCENARIOS.map((s) => ({ id: s.id, title: s.title, concurrency: s.concurrency, ...(s.untokenizedTwin ? { untokenizedTwin: s.untokenizedTwin } : {}) })),
    cells,
    checks: checkIssueTargets(cells),
    notes,
  };
  report.notes.push(...reportNotes(report));

  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(resultsDir, 'latest.svg'), barChartSvg(report));
  const markdown = markdownReport(report);
  writeFileSync(path.join(resultsDir, 'latest.md'), `${markdown}\n`);
  if (flags['update-readme'] && !updateReadmeSection(path.join(repoRoot, 'README.md'), markdown)) {
    progress('README.md has no <!-- bench:start --> / <!-- bench:end --> markers; not updated');
  }

  const m = report.machine;
  console.log(`\n${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB; Node ${m.node}; ${m.postgres}; commit ${m.gitCommit}; ${m.date}; load ${m.loadAverage1m}\n`);
  console.log(consoleTable(report));
  console.log('\nIssue 7 targets (pqclean backend):');
  for (const c of report.checks) console.log(`  [${c.pass === null ? 'n/a ' : c.pass ? 'pass' : 'FAIL'}] ${c.name}: ${c.target} — ${c.measured}`);
  console.log('\nNotes:');
  for (const n of report.notes) console.log(`  - ${n}`);
  if (profiles.length > 0) console.log(`\n${profiles.join('\n\n')}`);
  console.log(`\nwrote bench/results/latest.json, latest.svg, latest.md in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return cells.some((c) => c.status === 'error') ? 1 : 0;
}

main().then(
  (code) => {
    killAllChildren();
    process.exit(code);
  },
  (err: unknown) => {
    console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
    killAllChildren();
    process.exit(1);
  },
);

function withSteal(machine: BenchReport['machine'], share: number | undefined): BenchReport['machine'] {
  return share === undefined ? machine : { ...machine, stealShare: Math.round(share * 1000) / 1000 };
}
