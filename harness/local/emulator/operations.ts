import { ApiError, invalidParameter } from "./api-error.ts";
import type { ControlPlaneFaults } from "./control-plane-faults.ts";
import { decodeImage } from "./image-decoder.ts";
import { readImageParameter, type S3ObjectReader } from "./image-source.ts";
import { labelImage } from "./labeler.ts";
import type { ModelVersion } from "./model-version.ts";
import {
  decodeNextToken,
  encodeNextToken,
  optionalInteger,
  optionalNumber,
  optionalObject,
  optionalString,
  optionalStringList,
  type Params,
  requireInteger,
  requireString,
} from "./params.ts";
import type { ModelRegistry, ProjectRecord } from "./registry.ts";
import type { EmulatorSettings, ModelFeature, RekognitionAuthorizer } from "./settings.ts";
import type { Timers } from "./timers.ts";

const NAME_PATTERN = /^[a-zA-Z0-9_.-]{1,255}$/;

/** Tag that picks the stand-in model's feature for versions created over the API. */
export const FEATURE_TAG = "emulator:feature";

/** Thrown to make the server destroy the socket without answering (an injected fault). */
export class DroppedConnection extends Error {
  constructor() {
    super("connection dropped by fault injection");
    this.name = "DroppedConnection";
  }
}

export interface OperationContext {
  registry: ModelRegistry;
  settings: EmulatorSettings;
  /** Reads `Image.S3Object`; undefined when the emulator has no S3 to read from. */
  s3: S3ObjectReader | undefined;
  timers: Timers;
  random: () => number;
  authorize?: RekognitionAuthorizer;
  /** Injected ThrottlingException / InternalServerError answers of the control plane. */
  controlPlaneFaults?: ControlPlaneFaults;
}

export type Operation = (params: Params, context: OperationContext) => Promise<object> | object;

/** The Rekognition operations the emulator speaks, by the name in `X-Amz-Target`. */
export const OPERATIONS: Record<string, Operation> = {
  CreateProject: createProject,
  DescribeProjects: describeProjects,
  CreateProjectVersion: createProjectVersion,
  DescribeProjectVersions: describeProjectVersions,
  StartProjectVersion: startProjectVersion,
  StopProjectVersion: stopProjectVersion,
  DetectCustomLabels: detectCustomLabels,
};

function createProject(params: Params, { registry }: OperationContext) {
  const name = requireString(params, "ProjectName", NAME_PATTERN);
  const feature = optionalString(params, "Feature");
  if (feature !== undefined && feature !== "CUSTOM_LABELS") {
    throw invalidParameter("Feature", "must be CUSTOM_LABELS (the only feature the emulator has).");
  }
  return { ProjectArn: registry.createProject(name).arn };
}

function describeProjects(params: Params, { registry }: OperationContext) {
  const names = optionalStringList(params, "ProjectNames", 1, 10);
  const maxResults = optionalInteger(params, "MaxResults", 1, 100) ?? 100;
  const offset = decodeNextToken(optionalString(params, "NextToken"));
  const projects = registry
    .projectList()
    .filter((project) => !names || names.includes(project.name))
    .sort((a, b) => b.createdAt - a.createdAt);
  const page = projects.slice(offset, offset + maxResults);
  return {
    ProjectDescriptions: page.map((project) => ({
      ProjectArn: project.arn,
      CreationTimestamp: project.createdAt / 1000,
      Status: "CREATED",
      Feature: "CUSTOM_LABELS",
    })),
    ...(offset + maxResults < projects.length
      ? { NextToken: encodeNextToken(offset + maxResults) }
      : {}),
  };
}

function createProjectVersion(params: Params, { registry }: OperationContext) {
  const project = registry.projectByArn(requireString(params, "ProjectArn"));
  const versionName = requireString(params, "VersionName", NAME_PATTERN);
  const output = optionalObject(params, "OutputConfig");
  if (!output) throw invalidParameter("OutputConfig", "is required.");
  const bucket = optionalString(output, "S3Bucket");
  if (!bucket) throw invalidParameter("OutputConfig.S3Bucket", "is required.");
  const prefix = optionalString(output, "S3KeyPrefix");
  const tags = optionalObject(params, "Tags") ?? {};
  const featureTag = tags[FEATURE_TAG];
  if (
    featureTag !== undefined &&
    featureTag !== "CLASSIFICATION" &&
    featureTag !== "OBJECT_DETECTION"
  ) {
    throw invalidParameter(`Tags.${FEATURE_TAG}`, "must be CLASSIFICATION or OBJECT_DETECTION.");
  }
  const version = registry.createVersion(
    project,
    versionName,
    (featureTag as ModelFeature | undefined) ?? "CLASSIFICATION",
    {
      outputConfig: { S3Bucket: bucket, ...(prefix ? { S3KeyPrefix: prefix } : {}) },
      versionDescription: optionalString(params, "VersionDescription"),
    },
  );
  return { ProjectVersionArn: version.arn };
}

function describeProjectVersions(params: Params, { registry }: OperationContext) {
  const project: ProjectRecord = registry.projectByArn(requireString(params, "ProjectArn"));
  const names = optionalStringList(params, "VersionNames", 1, 10);
  const maxResults = optionalInteger(params, "MaxResults", 1, 100) ?? 100;
  const offset = decodeNextToken(optionalString(params, "NextToken"));
  const versions = [...project.versions.values()]
    .filter((version) => !names || names.includes(version.identity.version))
    .reverse() // insertion order breaks ties of equal creation times: newest first
    .sort((a, b) => b.identity.createdAt - a.identity.createdAt);
  const page = versions.slice(offset, offset + maxResults);
  return {
    ProjectVersionDescriptions: page.map(describeVersion),
    ...(offset + maxResults < versions.length
      ? { NextToken: encodeNextToken(offset + maxResults) }
      : {}),
  };
}

/** One entry of DescribeProjectVersions, with the fields clients read. */
export function describeVersion(version: ModelVersion) {
  const { identity } = version;
  const created = identity.createdAt / 1000;
  return {
    ProjectVersionArn: identity.arn,
    CreationTimestamp: created,
    Status: version.status,
    StatusMessage: version.statusMessage,
    BillableTrainingTimeInSeconds: 0,
    TrainingEndTimestamp: created,
    ...(identity.outputConfig ? { OutputConfig: identity.outputConfig } : {}),
    ...(version.minUnits !== undefined ? { MinInferenceUnits: version.minUnits } : {}),
    ...(version.maxUnits !== undefined ? { MaxInferenceUnits: version.maxUnits } : {}),
    ...(identity.versionDescription ? { VersionDescription: identity.versionDescription } : {}),
    Feature: "CUSTOM_LABELS",
  };
}

function startProjectVersion(params: Params, { registry, settings }: OperationContext) {
  const version = registry.version(requireString(params, "ProjectVersionArn"));
  const min = requireInteger(params, "MinInferenceUnits", 1);
  const max = optionalInteger(params, "MaxInferenceUnits", 1);
  if (max !== undefined && max < min) {
    throw invalidParameter("MaxInferenceUnits", `(${max}) must be >= MinInferenceUnits (${min}).`);
  }
  const asked = max ?? min;
  if (asked > settings.unitQuota) {
    throw new ApiError(
      "LimitExceededException",
      `${asked} inference units exceed the limit of ${settings.unitQuota} per model.`,
    );
  }
  return { Status: version.start(min, max) };
}

function stopProjectVersion(params: Params, { registry }: OperationContext) {
  const version = registry.version(requireString(params, "ProjectVersionArn"));
  return { Status: version.stop() };
}

/**
 * The order matters: parameters, then the model's state, then throttling
 * (decided on arrival), then injected faults, then the image itself, which is
 * analysed while the call's latency passes.
 */
async function detectCustomLabels(params: Params, context: OperationContext) {
  const { registry, settings, random, timers } = context;
  const version = registry.version(requireString(params, "ProjectVersionArn"));
  const minConfidence = optionalNumber(params, "MinConfidence", 0, 100);
  const maxResults = optionalInteger(params, "MaxResults", 0);
  if (params.Image === undefined) throw invalidParameter("Image", "is required.");
  if (version.status !== "RUNNING") {
    throw new ApiError(
      "ResourceNotReadyException",
      `ProjectVersion ${version.arn} is ${version.status}, not RUNNING.`,
    );
  }
  if (!version.admit()) {
    throw new ApiError(
      "ProvisionedThroughputExceededException",
      `The provisioned throughput of ${version.capacityTps()} TPS for ${version.arn} is exceeded.`,
    );
  }
  if (random() < version.faults.dropRate) throw new DroppedConnection();
  if (random() < version.faults.errorRate) {
    throw new ApiError("InternalServerError", "Injected internal server error.", 500);
  }
  const latency = Math.max(0, settings.latencyMs + (random() * 2 - 1) * settings.latencyJitterMs);
  const analysis = readImageParameter(params.Image, context.s3).then(decodeImage);
  // Both settle before answering; an invalid image still costs the call's latency.
  const [pixels] = await Promise.allSettled([
    analysis,
    latency > 0 ? timers.sleep(latency) : undefined,
  ]);
  if (pixels.status === "rejected") throw pixels.reason;
  const labels = labelImage(pixels.value, {
    withBoundingBoxes: version.identity.feature === "OBJECT_DETECTION",
    minConfidence,
    maxResults,
  });
  return { CustomLabels: labels };
}
