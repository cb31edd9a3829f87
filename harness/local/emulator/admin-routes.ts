import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { readBody, sendJson } from "../loopback-server.ts";
import { type EmulatorAdmin, faultSchema } from "./admin.ts";
import { ApiError } from "./api-error.ts";

/** Path prefix of the admin API: never clashes with AWS calls, which are all `POST /`. */
export const ADMIN_PREFIX = "/_emulator/";

/**
 * The admin API over HTTP, JSON in and out:
 *   GET  /_emulator/state
 *   GET  /_emulator/timeline?arn=<version arn>
 *   GET  /_emulator/billing[?arn=<version arn>]
 *   POST /_emulator/faults   {"type": "fail-unit" | "fail-zone" | "control-plane" | ..., ...}
 *   POST /_emulator/models   {"project", "version", "feature"?, "status"?}
 *   POST /_emulator/reset
 * Errors: `{"error": <name>, "message"}` with 400, or 404 for unknown ARNs and paths.
 */
export async function handleAdminCall(
  request: IncomingMessage,
  response: ServerResponse,
  admin: EmulatorAdmin,
): Promise<void> {
  try {
    const url = new URL(request.url ?? "/", "http://emulator");
    const route = `${request.method} ${url.pathname.slice(ADMIN_PREFIX.length - 1)}`;
    const body = request.method === "POST" ? await readJson(request) : undefined;
    switch (route) {
      case "GET /state":
        return sendJson(response, 200, admin.state());
      case "GET /timeline":
        return sendJson(response, 200, {
          arn: requireArn(url),
          timeline: admin.timeline(requireArn(url)),
        });
      case "GET /billing": {
        const arn = url.searchParams.get("arn");
        return sendJson(response, 200, arn ? admin.billing(arn) : { models: admin.billingAll() });
      }
      case "POST /faults": {
        const fault = faultSchema.safeParse(body);
        if (!fault.success) throw new ApiError("InvalidFault", z.prettifyError(fault.error));
        const result = admin.injectFault(fault.data);
        return sendJson(response, 200, { ok: true, ...(result ?? {}) });
      }
      case "POST /models":
        return sendJson(response, 200, admin.declareModel(body as never));
      case "POST /reset":
        admin.reset();
        return sendJson(response, 200, { ok: true });
      default:
        request.resume();
        return sendJson(response, 404, { error: "NotFound", message: `No admin route ${route}.` });
    }
  } catch (error) {
    if (error instanceof ApiError) {
      const status = error.name === "ResourceNotFoundException" ? 404 : 400;
      return sendJson(response, status, { error: error.name, message: error.message });
    }
    return sendJson(response, 500, { error: "InternalError", message: (error as Error).message });
  }
}

function requireArn(url: URL): string {
  const arn = url.searchParams.get("arn");
  if (!arn) throw new ApiError("MissingParameter", "Query parameter arn is required.");
  return arn;
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const body = await readBody(request, 1024 * 1024);
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new ApiError("InvalidJson", "The request body is not valid JSON.");
  }
}
