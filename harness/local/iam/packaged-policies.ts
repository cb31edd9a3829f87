import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "../s3-server.ts";
import { LOCAL_ACCOUNT, LOCAL_REGION } from "../workflow/asl.ts";
import { LOCAL_IDENTITIES, type RoleName } from "./identities.ts";
import {
  conditionHolds,
  type IntrinsicContext,
  resolveIntrinsics,
  type TemplateResources,
} from "./template-intrinsics.ts";

/**
 * The IAM policies AWS would enforce, taken from the template `osls package`
 * produces for the local run's parameters (stage `local`, the local region and
 * account), with CloudFormation's intrinsics resolved to local values.
 * Packaging takes seconds, so the result is cached on disk (keyed by a hash of
 * serverless.yml, the state machine definition and the parameters) and in
 * memory per process.
 */

/** The deployment parameters that shape the policies. */
export interface PolicyParameters {
  projectVersionArn: string;
  imagesBucket: string;
  imagesPrefix: string;
  resultsBucket: string;
  resultsPrefix: string;
  alertTopicArn?: string;
  kmsKeyArn?: string;
  stateMachineArn?: string;
}

export interface PolicyDocument {
  Version?: string;
  Statement: Record<string, unknown>[];
}

export interface NamedPolicy {
  name: string;
  policy: PolicyDocument;
}

export type RolePolicies = Record<RoleName, NamedPolicy[]>;

/** Bump when the resolution below changes, so cached files are not reused. */
const RESOLVER_VERSION = "2";
const CACHE_DIRECTORY = resolve(PROJECT_ROOT, "node_modules", ".cache", "local-iam-policies");
const SERVERLESS_PATH = resolve(PROJECT_ROOT, "serverless.yml");
const DEFINITION_PATH = resolve(PROJECT_ROOT, "statemachines/weekly-batch.asl.yml");

/**
 * `osls` rejects `--param key=` (an empty value), yet an empty value is a
 * real configuration (`imagesPrefix: ""`). Empty values are packaged as this
 * marker, which is then removed from every resolved string: the same text an
 * empty parameter would have produced.
 */
const EMPTY_MARKER = "EMPTY-PARAMETER-0f3a";

const inMemory = new Map<string, Promise<RolePolicies>>();

export async function packagedPolicies(parameters: PolicyParameters): Promise<RolePolicies> {
  const hash = createHash("sha256")
    .update(RESOLVER_VERSION)
    .update(await readFile(SERVERLESS_PATH))
    .update(await readFile(DEFINITION_PATH))
    .update(JSON.stringify(Object.entries(parameters).sort()))
    .digest("hex")
    .slice(0, 24);
  let loading = inMemory.get(hash);
  if (!loading) {
    loading = loadOrPackage(hash, parameters);
    inMemory.set(hash, loading);
    loading.catch(() => inMemory.delete(hash));
  }
  return loading;
}

async function loadOrPackage(hash: string, parameters: PolicyParameters): Promise<RolePolicies> {
  const cacheFile = join(CACHE_DIRECTORY, `${hash}.json`);
  try {
    return JSON.parse(await readFile(cacheFile, "utf8")) as RolePolicies;
  } catch {
    // Not cached yet.
  }
  const policies = policiesFromTemplate(await packageTemplate(parameters));
  await mkdir(CACHE_DIRECTORY, { recursive: true });
  // Written whole then renamed: a concurrent reader never sees half a file.
  const partial = `${cacheFile}.${process.pid}.tmp`;
  await writeFile(partial, JSON.stringify(policies));
  await rename(partial, cacheFile);
  return policies;
}

async function packageTemplate(parameters: PolicyParameters): Promise<Record<string, unknown>> {
  const directory = await mkdtemp(join(tmpdir(), "local-iam-"));
  const args = ["osls", "package", "--stage", "local", "--region", LOCAL_REGION];
  args.push("--package", join(directory, "out"));
  for (const [name, value] of Object.entries(parameters)) {
    if (value === undefined) continue;
    args.push("--param", `${name}=${value === "" ? EMPTY_MARKER : value}`);
  }
  try {
    await promisify(execFile)("npx", args, {
      cwd: PROJECT_ROOT,
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
      env: {
        ...process.env,
        // Its own build folder: concurrent packagings must not delete each other's.
        ESBUILD_WORK_FOLDER: join(directory, "esbuild"),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      },
    });
    const file = join(directory, "out", "cloudformation-template-update-stack.json");
    return JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  } catch (error) {
    const output = (error as { stdout?: string; stderr?: string }) ?? {};
    throw new Error(
      `osls package failed, so the IAM policies to enforce are unknown: ${String(
        (error as Error).message,
      )}\n${output.stdout ?? ""}${output.stderr ?? ""}`,
    );
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/**
 * Each role's policies, intrinsics resolved to the local region and account:
 * its inline `Policies`, and every `AWS::IAM::Policy` attached to it through
 * `Roles` whose `Condition` (if any) holds for these parameters.
 */
export function policiesFromTemplate(template: Record<string, unknown>): RolePolicies {
  const resources = (template.Resources ?? {}) as TemplateResources;
  const context: IntrinsicContext = {
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT,
    partition: "aws",
    resources,
    conditions: (template.Conditions ?? {}) as Record<string, unknown>,
    parameters: (template.Parameters ?? {}) as Record<string, { Default?: unknown }>,
    prepare: stripMarker,
  };
  const resolveValue = (value: unknown) => stripMarker(resolveIntrinsics(value, context));
  const attached = Object.entries(resources).filter(
    ([, resource]) =>
      resource.Type === "AWS::IAM::Policy" &&
      (typeof (resource as { Condition?: unknown }).Condition !== "string" ||
        conditionHolds((resource as { Condition: string }).Condition, context)),
  );
  const result = {} as RolePolicies;
  for (const identity of Object.values(LOCAL_IDENTITIES)) {
    const role = resources[identity.logicalId];
    if (!role) {
      throw new Error(`The packaged template has no role ${identity.logicalId}`);
    }
    const properties = (role.Properties ?? {}) as { Policies?: unknown[] };
    const inline = (properties.Policies ?? []).map((entry, index) => {
      const { PolicyName, PolicyDocument } = resolveValue(entry) as {
        PolicyName?: string;
        PolicyDocument: PolicyDocument;
      };
      return { name: PolicyName ?? `${identity.logicalId}-${index}`, policy: PolicyDocument };
    });
    const fromPolicies = attached
      .filter(([, policy]) => attachesTo(policy.Properties?.Roles, identity.logicalId))
      .map(([logicalId, policy]) => {
        const { PolicyName, PolicyDocument } = resolveValue({
          PolicyName: policy.Properties?.PolicyName,
          PolicyDocument: policy.Properties?.PolicyDocument,
        }) as { PolicyName?: string; PolicyDocument: PolicyDocument };
        return { name: PolicyName ?? logicalId, policy: PolicyDocument };
      });
    result[identity.role] = [...inline, ...fromPolicies];
  }
  return result;
}

/** Whether a policy's `Roles` names the role (`{"Ref": logicalId}`, as the template writes it). */
function attachesTo(roles: unknown, logicalId: string): boolean {
  return (
    Array.isArray(roles) &&
    roles.some(
      (entry) =>
        entry !== null &&
        typeof entry === "object" &&
        (entry as { Ref?: unknown }).Ref === logicalId,
    )
  );
}

function stripMarker<T>(value: T): T {
  if (typeof value === "string") return value.split(EMPTY_MARKER).join("") as T;
  if (Array.isArray(value)) return value.map(stripMarker) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, stripMarker(inner)]),
    ) as T;
  }
  return value;
}
