import { readFileSync } from "node:fs";

/**
 * CPU time of this process's main thread (the JavaScript thread), in ms, or
 * undefined where Linux's /proc is not there. `process.cpuUsage()` adds up
 * every thread: the libuv pool (file system), sharp's decoding threads and
 * the garbage collector's helpers, which a second core runs alongside. The
 * main thread is what one process cannot spread over cores, so its CPU per
 * image bounds the rate on a quiet machine: 1,000 / (main-thread ms per
 * image) images per second, whatever the load around it.
 */
export function mainThreadCpuMs(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces), from field 3 on;
  // utime and stime are fields 14 and 15, in clock ticks of 1/100 s (USER_HZ).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks * 10 : undefined;
}
