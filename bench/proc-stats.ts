import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** Kernel clock ticks per second (`getconf CLK_TCK`, 100 on practically every Linux). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * CPU time (user + system, all threads — so worker-pool signing is included) a process has used,
 * in ms, from `/proc/<pid>/stat`; undefined where /proc is absent or the process is gone.
 */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) of proc(5); after the cut, field 3 is at index 0.
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return ((utime + stime) * 1000) / clockTicksPerSecond();
  } catch {
    return undefined;
  }
}

/** Resident set size of a process in MB (`VmRSS` of `/proc/<pid>/status`), undefined if unreadable. */
export function processRssMb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? undefined : Number(match[1]) / 1024;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; `stop()` returns the largest sample. */
export function sampleRss(pid: number, everyMs = 100): { stop(): number | undefined } {
  let max: number | undefined;
  const take = () => {
    const rss = processRssMb(pid);
    if (rss !== undefined) max = Math.max(max ?? 0, rss);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return max;
    },
  };
}

/** Busy CPU time of the whole machine, ms (all cores; from the `cpu` line of /proc/stat). */
function systemBusyMs(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
    return Number.isFinite(busy) ? (busy * 1000) / clockTicksPerSecond() : undefined;
  } catch {
    return undefined;
  }
}

/** CPU ms of every running process whose command name is `comm`, by pid. */
function cpuOfCommand(comm: string): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const d of pids) {
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== comm) continue;
    } catch {
      continue;
    }
    const ms = processCpuMs(Number(d));
    if (ms !== undefined) out.set(Number(d), ms);
  }
  return out;
}

/**
 * Measures the CPU the rest of the machine used while a cell ran: everything busy except this
 * process, the process in the middle and PostgreSQL's processes. On a shared box this says whether
 * a cell's figures were squeezed by someone else's work.
 */
export function foreignCpuMeter(middlePid: number | undefined): { stop(): number | undefined } {
  const ours = () => (processCpuMs(process.pid) ?? 0) + (middlePid === undefined ? 0 : (processCpuMs(middlePid) ?? 0));
  const system0 = systemBusyMs();
  const ours0 = ours();
  const pg0 = cpuOfCommand('postgres');
  return {
    stop() {
      const system1 = systemBusyMs();
      if (system0 === undefined || system1 === undefined) return undefined;
      let pg = 0;
      for (const [pid, ms] of cpuOfCommand('postgres')) pg += ms - (pg0.get(pid) ?? 0);
      return Math.max(0, system1 - system0 - (ours() - ours0) - pg);
    },
  };
}

/**
 * Share of the machine's CPU time the hypervisor gave to others ("steal", /proc/stat) between
 * start and stop; undefined where /proc/stat has no steal column. On a shared VM a few percent
 * already shows as run-to-run spread.
 */
export function stealMeter(): { stop(): number | undefined } {
  const read = (): number[] | undefined => {
    try {
      const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
      const fields = line.trim().split(/\s+/).slice(1).map(Number);
      return fields.length >= 8 && fields.every(Number.isFinite) ? fields : undefined;
    } catch {
      return undefined;
    }
  };
  const start = read();
  return {
    stop() {
      const end = read();
      if (start === undefined || end === undefined) return undefined;
      // user nice system idle iowait irq softirq steal (guest time is already inside user).
      const delta = end.slice(0, 8).map((v, i) => v - (start[i] ?? 0));
      const total = delta.reduce((a, b) => a + b, 0);
      return total > 0 ? (delta[7] ?? 0) / total : undefined;
    },
  };
}
