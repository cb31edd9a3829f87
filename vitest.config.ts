import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/support/listener-leaks.ts"],
    // Integration tests start real servers on loopback; keep the pool small on
    // 2-core machines so timing-sensitive emulator tests are not starved.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      // Tests provoke errors on purpose; their log lines would bury a real
      // failure. A test that asserts on logs sets a level and captures them.
      LOG_LEVEL: "silent",
    },
  },
});
