import { describe, expect, it } from "vitest";
import { mainThreadCpuMs } from "../../harness/bench/thread-cpu.ts";

describe("mainThreadCpuMs", () => {
  it.runIf(process.platform === "linux")(
    "counts the CPU this thread spends, not the wall time around it",
    () => {
      const before = mainThreadCpuMs() as number;
      const processBefore = process.cpuUsage();
      // Spin until the process has used 300 ms of CPU: however loaded the
      // machine, that CPU was this thread's.
      let spins = 0;
      for (;;) {
        spins++;
        const used = process.cpuUsage(processBefore);
        if (used.user + used.system >= 300_000) break;
      }
      const after = mainThreadCpuMs() as number;
      expect(spins).toBeGreaterThan(0);
      // Clock ticks of 10 ms, and other threads of the process may add to the
      // process figure: the thread's share is most of it, never more.
      expect(after - before).toBeGreaterThanOrEqual(200);
      expect(after - before).toBeLessThanOrEqual(330 + 20);
    },
  );

  it("is undefined or a whole number of ms", () => {
    const value = mainThreadCpuMs();
    if (value !== undefined) expect(Number.isInteger(value)).toBe(true);
  });
});
