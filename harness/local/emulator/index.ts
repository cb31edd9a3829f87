import { S3Client } from "@aws-sdk/client-s3";
import { CLIENT_DEFAULTS } from "../../../src/clients.ts";
import { silentLogger, systemClock } from "../../../src/runtime.ts";
import { listenOnLoopback } from "../loopback-server.ts";
import { EmulatorAdmin } from "./admin.ts";
import { ADMIN_PREFIX, handleAdminCall } from "./admin-routes.ts";
import { ControlPlaneFaults } from "./control-plane-faults.ts";
import { s3ClientReader } from "./image-source.ts";
import type { OperationContext } from "./operations.ts";
import { ModelRegistry } from "./registry.ts";
import { handleRekognitionCall } from "./rekognition-protocol.ts";
import { type EmulatorOptions, type EmulatorSettings, resolveSettings } from "./settings.ts";
import { Timers } from "./timers.ts";
import { AvailabilityZones } from "./zones.ts";

export type { BillingView, EmulatorAdmin, EmulatorState, Fault } from "./admin.ts";
export type {
  ControlPlaneFault,
  ControlPlaneFaultState,
  ControlPlaneOperation,
} from "./control-plane-faults.ts";
export type { ModelVersionState } from "./model-version.ts";
export type { DeclaredModel } from "./registry.ts";
export type { EmulatorOptions, EmulatorSettings, ModelDeclaration } from "./settings.ts";
export type { TimelineSecond } from "./timeline.ts";

/** A running emulator. */
export interface Emulator {
  /** `http://127.0.0.1:<port>`: pass it as the Rekognition endpoint. */
  endpoint: string;
  port: number;
  admin: EmulatorAdmin;
  settings: EmulatorSettings;
  /** Closes the server and cancels every timer; open connections are cut. */
  close(): Promise<void>;
}

/** The only address the emulator binds to. */
export const EMULATOR_HOST = "127.0.0.1";

/**
 * Starts the Rekognition Custom Labels emulator on 127.0.0.1: the Rekognition
 * JSON 1.1 API on `POST /`, the admin API under `/_emulator/`. Settings come
 * from defaults, then `configFile`, then the options themselves.
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const { settings, models, controlPlaneFaults: armed } = await resolveSettings(options);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const zones = new AvailabilityZones(settings.region, settings.availabilityZones);
  const registry = new ModelRegistry({ settings, clock, zones });
  const random = options.random ?? Math.random;
  const controlPlaneFaults = new ControlPlaneFaults(random);
  for (const fault of armed) controlPlaneFaults.add(fault);
  const admin = new EmulatorAdmin(registry, zones, settings, clock, controlPlaneFaults);
  const timers = new Timers(clock);
  const s3 =
    options.s3Client ??
    (settings.s3Endpoint && !options.s3Objects
      ? createS3Client(settings.s3Endpoint, settings.region)
      : undefined);
  const context: OperationContext = {
    registry,
    settings,
    s3: options.s3Objects ?? (s3 ? s3ClientReader(s3) : undefined),
    timers,
    random,
    controlPlaneFaults,
    ...(options.authorize ? { authorize: options.authorize } : {}),
  };
  for (const declaration of models) admin.declareModel(declaration);

  const server = await listenOnLoopback((request, response) => {
    const handle = request.url?.startsWith(ADMIN_PREFIX)
      ? handleAdminCall(request, response, admin)
      : handleRekognitionCall(request, response, context);
    handle.catch((error: unknown) => {
      logger.error("emulator request failed", { error: String(error) });
      response.destroy();
    });
  }, settings.port);
  const { endpoint, port } = server;
  logger.info("emulator listening", { endpoint });

  let closed: Promise<void> | undefined;
  return {
    endpoint,
    port,
    admin,
    settings,
    close() {
      closed ??= (async () => {
        timers.cancelAll();
        registry.clear();
        const serverClosed = server.close();
        // Only the emulator's own client is destroyed; an injected one belongs to the caller.
        if (!options.s3Client) s3?.destroy();
        await serverClosed;
      })();
      return closed;
    },
  };
}

/** The S3 client for Image.S3Object reads from an S3-compatible server. */
function createS3Client(endpoint: string, region: string): S3Client {
  return new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    maxAttempts: 1,
    ...CLIENT_DEFAULTS,
  });
}
