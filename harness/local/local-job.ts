import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { parse as parseYaml } from "yaml";
import * as checkModel from "../../functions/check-model.ts";
import * as ensureModelRunning from "../../functions/ensure-model-running.ts";
import * as evaluateRound from "../../functions/evaluate-round.ts";
import * as mergePlan from "../../functions/merge-plan.ts";
import * as plan from "../../functions/plan.ts";
import * as planShard from "../../functions/plan-shard.ts";
import * as processBatch from "../../functions/process-batch.ts";
import * as report from "../../functions/report.ts";
import * as safetyStop from "../../functions/safety-stop.ts";
import * as stopModel from "../../functions/stop-model.ts";
import type { EnsureModelRunningResult } from "../../src/model/start.ts";
import type { SafetyStopResult } from "../../src/reaper.ts";
import type { RunReportResult, RunSummary } from "../../src/report/summary.ts";
import { normalizePrefix, runFiles } from "../../src/result-keys.ts";
import { getObjectJson } from "../../src/s3-json.ts";
import type { Plan } from "../../src/shapes.ts";
import { runWithEnvironment } from "./iam/function-environment.ts";
import { identityForRole, LOCAL_IDENTITIES, type LocalIdentity } from "./iam/identities.ts";
import { packagedPolicies, type RolePolicies } from "./iam/packaged-policies.ts";
import {
  createLocalEventBus,
  EVENTS_PUT_RESOURCE,
  localEventBusArn,
  type PutEvent,
} from "./local-eventbridge.ts";
import { createLocalTopic, type PublishedMessage, SNS_PUBLISH_RESOURCE } from "./local-sns.ts";
import type { LocalStack } from "./local-stack.ts";
import { LOCAL_S3_CREDENTIALS, localS3ClientConfig, PROJECT_ROOT } from "./s3-server.ts";
import { LOCAL_ACCOUNT, LOCAL_REGION, localArn } from "./workflow/asl.ts";
import {
  type HandlerMap,
  type JsonValue,
  type LocalHandler,
  loadDefinition,
  runWorkflow,
  type WorkflowEventListener,
  type WorkflowResult,
} from "./workflow/index.ts";

/**
 * Runs the deployed state machine definition locally, end to end: the very
 * Lambda handlers of `functions/` bound to its Tasks, against the local stack.
 * When the execution ends FAILED, TIMED_OUT or ABORTED, the safety-stop
 * Lambda is invoked with the event EventBridge would send, as on AWS.
 */

export const DEFINITION_PATH = resolve(PROJECT_ROOT, "statemachines/weekly-batch.asl.yml");
const SERVERLESS_PATH = resolve(PROJECT_ROOT, "serverless.yml");
export const LOCAL_STATE_MACHINE_NAME = "rekognition-weekly-batch-local";

/** The Lambdas of the workflow, by their name in serverless.yml. */
export const WORKFLOW_HANDLERS: Record<string, LocalHandler> = {
  plan: plan.handler as LocalHandler,
  planShard: planShard.handler as LocalHandler,
  mergePlan: mergePlan.handler as LocalHandler,
  ensureModelRunning: ensureModelRunning.handler as LocalHandler,
  checkModel: checkModel.handler as LocalHandler,
  processBatch: processBatch.handler as LocalHandler,
  evaluateRound: evaluateRound.handler as LocalHandler,
  stopModel: stopModel.handler as LocalHandler,
  report: report.handler as LocalHandler,
};

/**
 * Each function's timeout as serverless.yml deploys it, so that the local
 * abort signal fires when it would on AWS. Only `${self:custom.*}` references
 * are resolved: that is all the timeouts use.
 */
export async function deployedTimeouts(): Promise<Record<string, number>> {
  const config = parseYaml(await readFile(SERVERLESS_PATH, "utf8")) as {
    provider: { timeout?: number };
    custom: Record<string, unknown>;
    functions: Record<string, { timeout?: number | string }>;
  };
  const resolveValue = (value: number | string | undefined): number => {
    if (typeof value === "number") return value;
    const reference = /^\$\{self:custom\.(\w+)\}$/.exec(value ?? "");
    const resolved = reference ? config.custom[reference[1] as string] : undefined;
    return typeof resolved === "number" ? resolved : (config.provider.timeout ?? 6);
  };
  return Object.fromEntries(
    Object.entries(config.functions).map(([name, fn]) => [name, resolveValue(fn.timeout)]),
  );
}

/**
 * The role each function runs as: its `role:` in serverless.yml (a logical
 * id of the template), else the role the Lambdas share.
 */
export async function functionRoles(): Promise<Record<string, LocalIdentity>> {
  const config = parseYaml(await readFile(SERVERLESS_PATH, "utf8")) as {
    functions: Record<string, { role?: unknown }>;
  };
  return Object.fromEntries(
    Object.entries(config.functions).map(([name, fn]) => {
      if (fn.role === undefined) return [name, LOCAL_IDENTITIES.lambda];
      if (typeof fn.role !== "string") {
        throw new Error(
          `Function ${name}: only a role's logical id is understood as its role locally, got ${JSON.stringify(fn.role)}`,
        );
      }
      return [name, identityForRole(fn.role)];
    }),
  );
}

export interface LocalJobOptions {
  stack: LocalStack;
  /** The execution input (overrides of the deployment's defaults). */
  input?: Record<string, JsonValue>;
  /** Deployment parameters as the Lambdas' environment (IMAGES_PREFIX, TPS_PER_UNIT, ...). */
  environment?: Record<string, string>;
  /** Each Wait state lasts this long (default 500 ms instead of 30 s). */
  waitMs?: number;
  /** Scales Retry intervals (default 0.05). */
  retryScale?: number;
  /** Replace or wrap Lambdas (fault injection in tests); keyed like `WORKFLOW_HANDLERS`. */
  handlers?: Partial<Record<string, LocalHandler>>;
  /** Timeouts to use instead of serverless.yml's, in seconds. */
  timeouts?: Partial<Record<string, number>>;
  executionName?: string;
  onEvent?: WorkflowEventListener;
  signal?: AbortSignal;
  /**
   * Enforce IAM (default true): every request of the Lambdas and of the state
   * machine's integrations is checked against the policies `osls package`
   * produces for this job's parameters. False only for experiments.
   */
  iam?: boolean;
  /** Changes the packaged policies before they are enforced (tests narrow a statement). */
  adjustPolicies?: (policies: RolePolicies) => RolePolicies;
}

export interface LocalJobResult {
  execution: WorkflowResult;
  plan?: Plan;
  report?: RunReportResult;
  summary?: RunSummary;
  /** Present when the execution did not succeed: what the safety stop did. */
  safetyStop?: SafetyStopResult;
  /** What the Notify states published (only when ALERT_TOPIC_ARN is set). */
  notifications: PublishedMessage[];
  /** What the workflow put on the default EventBridge bus (the run's event). */
  events: PutEvent[];
  /**
   * Invocations that ran on after the execution ended (AWS does not stop a
   * running Lambda), all waited for before the job returns; `stillRunning`
   * counts those that outlived even their function's timeout.
   */
  orphans: { ranOn: number; stillRunning: number };
  /** The unreleased lease of a dead execution that this run's start replaced. */
  replacedLease?: EnsureModelRunningResult["replacedLease"];
}

/** The deployment parameters the local stack implies, as serverless.yml turns them into env vars. */
export function localDeploymentEnvironment(stack: LocalStack): Record<string, string> {
  const { settings } = stack.emulator;
  return {
    PROJECT_VERSION_ARN: stack.projectVersionArn,
    IMAGES_BUCKET: stack.imagesBucket,
    IMAGES_PREFIX: "incoming/",
    RESULTS_BUCKET: stack.resultsBucket,
    RESULTS_PREFIX: "rekognition-results/",
    // The deployment parameter a user would set after measuring: what a unit serves.
    TPS_PER_UNIT: String(settings.tpsPerUnit),
    STARTUP_MINUTES: String(Math.max(settings.startDelayMs, 1000) / 60_000),
    STOP_MINUTES: String(settings.stopDelayMs / 60_000),
    EXPECTED_LATENCY_MS: String(Math.max(settings.latencyMs, 1)),
    // EMF lines are for CloudWatch; locally the report shows the same figures.
    POWERTOOLS_METRICS_DISABLED: "true",
    // The emulator's time runs in seconds where AWS's runs in minutes, and it
    // keeps per-second unit figures: read them per second (AWS: 60).
    MODEL_METRICS_PERIOD_SECONDS: "1",
    // As deployed: an execution input may not leave the buckets, prefixes and model above.
    DEPLOYED_IAM_SCOPE: "true",
  };
}

/** The deployment parameters an environment stands for, as `osls package` takes them. */
function policyParameters(environment: Record<string, string>) {
  const required = (name: string) => {
    const value = environment[name];
    if (value === undefined)
      throw new Error(`${name} is not set: the IAM policies cannot be packaged`);
    return value;
  };
  return {
    projectVersionArn: required("PROJECT_VERSION_ARN"),
    imagesBucket: required("IMAGES_BUCKET"),
    imagesPrefix: environment.IMAGES_PREFIX ?? "",
    resultsBucket: environment.RESULTS_BUCKET || required("IMAGES_BUCKET"),
    resultsPrefix: required("RESULTS_PREFIX"),
    alertTopicArn: environment.ALERT_TOPIC_ARN ?? "",
    stateMachineArn: localArn.stateMachine(LOCAL_STATE_MACHINE_NAME),
  };
}

/** The ARN `osls package --stage local` gives the function `name` (what the state machine invokes). */
export function packagedFunctionArn(name: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${LOCAL_STATE_MACHINE_NAME}-${name}`;
}

/** Fails a Task as Step Functions reports an integration's AccessDenied. */
class IntegrationAccessDenied extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export async function runLocalJob(options: LocalJobOptions): Promise<LocalJobResult> {
  const { stack } = options;
  const environment = { ...localDeploymentEnvironment(stack), ...options.environment };
  const enforcing = options.iam ?? true;
  let releaseIam = () => {};
  if (enforcing) {
    const packaged = await packagedPolicies(policyParameters(environment));
    releaseIam = stack.iam.enforce(options.adjustPolicies?.(packaged) ?? packaged);
  }
  // The Lambdas sign with their role's key; the operator's clients keep s3rver's.
  const restore = stack.applyEnvironment(
    enforcing
      ? { ...environment, AWS_ACCESS_KEY_ID: LOCAL_IDENTITIES.lambda.accessKeyId }
      : environment,
  );
  // ItemReader and ResultWriter act as the state machine's role.
  const integrationS3 = enforcing
    ? new S3Client({
        ...localS3ClientConfig(stack.s3Server.endpoint),
        credentials: {
          accessKeyId: LOCAL_IDENTITIES.stateMachine.accessKeyId,
          secretAccessKey: LOCAL_S3_CREDENTIALS.secretAccessKey,
        },
      })
    : stack.s3;
  try {
    const timeouts = { ...(await deployedTimeouts()), ...options.timeouts };
    const handlers: HandlerMap = {};
    let replacedLease: EnsureModelRunningResult["replacedLease"];
    // Kept aside so the summary can say whose lease the start replaced.
    const noteReplacedLease =
      (inner: LocalHandler): LocalHandler =>
      async (event, context) => {
        const output = await inner(event, context);
        const replaced = (output as EnsureModelRunningResult | undefined)?.replacedLease;
        if (replaced) replacedLease = replaced;
        return output;
      };
    const roles = await functionRoles();
    for (const [name, handler] of Object.entries({ ...WORKFLOW_HANDLERS, ...options.handlers })) {
      if (!handler) continue;
      // Each function signs with its own role's key, as its sandbox would on AWS.
      const role = roles[name] ?? LOCAL_IDENTITIES.lambda;
      const runAsRole: LocalHandler = enforcing
        ? (event, context) =>
            runWithEnvironment({ AWS_ACCESS_KEY_ID: role.accessKeyId }, () =>
              handler(event, context),
            )
        : handler;
      // The state machine's role must be allowed to invoke the function.
      const invoke: LocalHandler = async (event, context) => {
        const denial = await stack.iam.checkStateMachine([
          { action: "lambda:InvokeFunction", resource: packagedFunctionArn(name), context: {} },
        ]);
        if (denial) throw new IntegrationAccessDenied("Lambda.AWSLambdaException", denial.message);
        return runAsRole(event, context);
      };
      handlers[name] = {
        handler: name === "ensureModelRunning" ? noteReplacedLease(invoke) : invoke,
        timeoutSeconds: timeouts[name],
      };
    }
    const topic = createLocalTopic();
    const publish: LocalHandler = async (parameters) => {
      const topicArn = (parameters as { TopicArn?: unknown })?.TopicArn;
      const denial = await stack.iam.checkStateMachine([
        {
          action: "sns:Publish",
          resource: typeof topicArn === "string" ? topicArn : "*",
          context: {},
        },
      ]);
      if (denial)
        throw new IntegrationAccessDenied("SNS.AuthorizationErrorException", denial.message);
      return topic.publish(parameters as never) as never;
    };
    const bus = createLocalEventBus();
    const putEvents: LocalHandler = async (parameters) => {
      const entries = (parameters as { Entries?: { EventBusName?: unknown }[] })?.Entries;
      // The state machine's role must be allowed to put on each entry's bus.
      const buses = new Set(
        (Array.isArray(entries) ? entries : []).map((entry) =>
          typeof entry?.EventBusName === "string" ? entry.EventBusName : "default",
        ),
      );
      const denial = await stack.iam.checkStateMachine(
        [...buses].map((name) => ({
          action: "events:PutEvents",
          resource: localEventBusArn(name),
          context: {},
        })),
      );
      if (denial)
        throw new IntegrationAccessDenied("EventBridge.AccessDeniedException", denial.message);
      return bus.putEvents(parameters as never) as never;
    };
    const execution = await runWorkflow({
      definition: await loadDefinition(DEFINITION_PATH),
      input: options.input ?? {},
      handlers,
      resources: { [SNS_PUBLISH_RESOURCE]: publish, [EVENTS_PUT_RESOURCE]: putEvents },
      s3: integrationS3,
      // A Distributed Map starts its children as executions of this state machine.
      authorizeChildStart: async (stateMachineArn) =>
        (
          await stack.iam.checkStateMachine([
            { action: "states:StartExecution", resource: stateMachineArn, context: {} },
          ])
        )?.message,
      waitMs: options.waitMs ?? 500,
      retryScale: options.retryScale ?? 0.05,
      stateMachineName: LOCAL_STATE_MACHINE_NAME,
      ...(options.executionName ? { executionName: options.executionName } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const output = (execution.output ?? {}) as { plan?: Plan; report?: RunReportResult };
    const result: LocalJobResult = {
      execution,
      notifications: topic.messages,
      events: bus.events,
      orphans: { ranOn: execution.orphans, stillRunning: 0 },
    };
    if (replacedLease) result.replacedLease = replacedLease;
    if (output.plan) result.plan = output.plan;
    if (output.report) {
      result.report = output.report;
      result.summary = await readSummary(stack, output.report);
    } else if (execution.status !== "SUCCEEDED") {
      // A failed execution has no output, but ReportFailure may have written
      // the run's report: find the run by its execution id.
      Object.assign(result, await findFailedRun(stack, environment, execution.executionArn));
    }
    if (execution.status !== "SUCCEEDED") {
      result.safetyStop = (await safetyStop.handler(
        {
          source: "aws.states",
          "detail-type": "Step Functions Execution Status Change",
          detail: {
            executionArn: execution.executionArn,
            status: execution.status,
            stateMachineArn: execution.executionArn.replace(
              /:execution:([^:]+):[^:]+$/,
              ":stateMachine:$1",
            ),
          },
        },
        {} as never,
      )) as SafetyStopResult;
    }
    // The orphans' writes land after the report, as on AWS; the local stack
    // stays up (and this environment applied) until they have ended.
    result.orphans.stillRunning = await execution.settleOrphans();
    return result;
  } finally {
    restore();
    releaseIam();
    if (integrationS3 !== stack.s3) integrationS3.destroy();
  }
}

async function readSummary(stack: LocalStack, report: RunReportResult): Promise<RunSummary> {
  return (await getObjectJson({
    s3: stack.s3,
    bucket: report.bucket,
    key: report.summaryKey,
  })) as RunSummary;
}

/** How many of the newest runs to look through for a failed execution's own. */
const RECENT_RUNS_SEARCHED = 20;

async function readJson<T>(stack: LocalStack, bucket: string, key: string): Promise<T | undefined> {
  try {
    return (await getObjectJson({ s3: stack.s3, bucket, key })) as T;
  } catch {
    return undefined;
  }
}

/** The plan and, when ReportFailure wrote one, the report of the run an execution made. */
async function findFailedRun(
  stack: LocalStack,
  environment: Record<string, string>,
  executionArn: string,
): Promise<Pick<LocalJobResult, "plan" | "report" | "summary">> {
  const bucket = environment.RESULTS_BUCKET ?? stack.resultsBucket;
  const prefix = normalizePrefix(environment.RESULTS_PREFIX ?? "rekognition-results/");
  const listing = await stack.s3.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}runs/`, Delimiter: "/" }),
  );
  // Run ids sort by time: look at the newest first.
  const folders = (listing.CommonPrefixes ?? [])
    .map((common) => common.Prefix ?? "")
    .sort()
    .reverse()
    .slice(0, RECENT_RUNS_SEARCHED);
  for (const folder of folders) {
    const runId = folder.slice(`${prefix}runs/`.length, -1);
    const runPlan = await readJson<Plan>(stack, bucket, runFiles.plan(prefix, runId));
    if (runPlan?.executionId !== executionArn) continue;
    const summaryKey = runFiles.summary(prefix, runId);
    const summary = await readJson<RunSummary>(stack, bucket, summaryKey);
    if (!summary) return { plan: runPlan };
    const report: RunReportResult = {
      bucket,
      summaryKey,
      reportKey: runFiles.report(prefix, runId),
      outcome: summary.outcome,
      reconciled: summary.reconciled,
      counts: summary.counts,
    };
    return { plan: runPlan, report, summary };
  }
  return {};
}
