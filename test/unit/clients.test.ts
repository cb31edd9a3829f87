import { describe, expect, it } from "vitest";
import { CONTROL_PLANE_MAX_ATTEMPTS, createAwsClients } from "../../src/clients.ts";
import { ControlPlaneUnavailableError } from "../../src/errors.ts";
import { toNamedError } from "../../src/lambda-handler.ts";

describe("createAwsClients", () => {
  it("detection has SDK retries off; the control plane has its own client with standard retries", async () => {
    const clients = createAwsClients({ AWS_REGION: "eu-west-1" });
    try {
      expect(await clients.rekognition.config.maxAttempts()).toBe(1);
      expect(clients.modelControl).not.toBe(clients.rekognition);
      expect(await clients.modelControl.config.maxAttempts()).toBe(CONTROL_PLANE_MAX_ATTEMPTS);
      expect(CONTROL_PLANE_MAX_ATTEMPTS).toBeGreaterThan(1);
      const { retryMode } = clients.modelControl.config;
      expect(typeof retryMode === "function" ? await retryMode() : retryMode).toBe("standard");
      expect(await clients.modelControl.config.region()).toBe("eu-west-1");
    } finally {
      for (const client of Object.values(clients)) client.destroy();
    }
  });

  it("every client resolves its middleware once per command, not on every call", () => {
    const clients = createAwsClients({ AWS_REGION: "eu-west-1" });
    try {
      for (const [name, client] of Object.entries(clients)) {
        expect([name, client.config.cacheMiddleware]).toEqual([name, true]);
      }
    } finally {
      for (const client of Object.values(clients)) client.destroy();
    }
  });

  it("a control-plane failure leaves a Lambda under its own name, not Internal", () => {
    const named = toNamedError(new ControlPlaneUnavailableError("throttled"));
    expect(named.name).toBe("ControlPlaneUnavailable");
  });
});
