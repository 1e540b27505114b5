import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** A child the bench started, with the tail of its output for error messages. */
export interface BenchChild {
  readonly process: ChildProcess;
  readonly pid: number;
  /** The last lines it wrote (stdout and stderr), newest last. */
  tail(): string;
  /** Resolves with the first output line `pattern` matches (rejects on exit or after `timeoutMs`). */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();

/** Kills every child still running, synchronously (for `exit` and signal handlers). */
export function killAllChildren(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

// Whatever way the bench ends, no proxy or pgbouncer outlives it.
process.on('exit', killAllChildren);

/**
 * Spawns a tracked child whose output is read continuously (a full pipe would stall it) and kept
 * as a short tail.
 */
export function spawnChild(command: string, args: string[], options: SpawnOptions): BenchChild {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  live.add(child);
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      live.delete(child);
      resolve();
    });
  });
  const onData = (buf: Buffer) => {
    for (const line of buf.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      for (const l of listeners) l(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  const tail = () => lines.join('\n');
  return {
    process: child,
    pid: child.pid,
    tail,
    waitForLine(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const done = (fn: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
          fn();
        };
        const check = (line: string) => {
          const m = pattern.exec(line);
          if (m) done(() => resolve(m));
        };
        const onExit = (code: number | null) => done(() => reject(new Error(`${command} exited (code ${code}) before it was ready:\n${tail()}`)));
        const timer = setTimeout(() => done(() => reject(new Error(`${command} not ready after ${timeoutMs} ms:\n${tail()}`))), timeoutMs);
        listeners.add(check);
        child.once('exit', onExit);
        for (const line of lines) check(line);
        if (exited) onExit(child.exitCode);
      });
    },
    async stop(graceMs = 5000) {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
