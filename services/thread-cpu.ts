import { readFileSync, readlinkSync } from 'node:fs';

/**
 * CPU time per thread, from Linux's /proc: what operators (and the benchmark) need to see that
 * MQTT work and the reading pipeline each have a core. Elsewhere it is simply not reported.
 */

/** The kernel's id of the calling thread (/proc/thread-self → "<pid>/task/<tid>"). */
export function thisThreadTid(): number | undefined {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').at(-1)) || undefined;
  } catch {
    return undefined;
  }
}

const CLK_TCK = 100;

/** User and system CPU seconds in a /proc `stat` line (of a process or of one of its threads). */
export function statCpuSeconds(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** User and system CPU seconds of one thread of this process. */
export function threadCpuSeconds(tid: number): number | undefined {
  try {
    return statCpuSeconds(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}
