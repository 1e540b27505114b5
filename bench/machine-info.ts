import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { MachineInfo } from './bench-result.js';

/** The commit the bench ran on, marked "+dirty" when the tree had uncommitted changes. */
function gitCommit(cwd: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

/** CPU, cores, memory, OS, Node, PostgreSQL, date and commit: what a reader needs to weigh the figures. */
export function machineInfo(postgres: string, repoRoot: string, loadAverage1m: number): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres,
    date: new Date().toISOString(),
    gitCommit: gitCommit(repoRoot),
    loadAverage1m: Math.round(loadAverage1m * 100) / 100,
  };
}
