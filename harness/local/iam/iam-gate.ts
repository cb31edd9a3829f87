/**
 * IAM enforcement for the local AWS. The evaluation is done by
 * `@cloud-copilot/iam-simulate`: of the maintained IAM evaluators on npm it is
 * the most complete (every condition operator, IfExists, absent keys not
 * matching, actions and resource types checked against AWS's own data), where
 * `pbac` (MIT) is older and only "mostly compatible". It is AGPL-3.0, so it is
 * a devDependency of the rehearsal only: nothing under functions/ or the
 * product's src/ imports it, and the Lambda bundles never contain it.
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { LOCAL_ACCOUNT } from "../workflow/asl.ts";
import { identityForAccessKey, LOCAL_IDENTITIES, type LocalIdentity } from "./identities.ts";
import type { RolePolicies } from "./packaged-policies.ts";
import type { AuthorizationRequest } from "./request-context.ts";

export interface Denial {
  role: string;
  principalArn: string;
  action: string;
  resource: string;
  /** AWS's wording: "User: <principal> is not authorized to perform: ...". */
  message: string;
}

export interface IamStats {
  checked: number;
  denied: number;
  denials: Denial[];
}

/** How many denials are kept for the summary (the count keeps going). */
const DENIALS_KEPT = 50;

export class IamGate {
  private policies: RolePolicies | undefined;
  private readonly decisions = new Map<string, Promise<boolean>>();
  readonly stats: IamStats = { checked: 0, denied: 0, denials: [] };

  private holders = 0;

  /**
   * Enforces these policies (a job installs the policies of its parameters)
   * until the returned release is called; concurrent jobs share the latest.
   */
  enforce(policies: RolePolicies): () => void {
    if (this.policies !== policies) this.decisions.clear();
    this.policies = policies;
    this.patterns.clear();
    this.holders += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holders -= 1;
      if (this.holders === 0) {
        this.policies = undefined;
        this.decisions.clear();
      }
    };
  }

  get enforcing(): boolean {
    return this.policies !== undefined;
  }

  resetStats(): void {
    this.stats.checked = 0;
    this.stats.denied = 0;
    this.stats.denials = [];
  }

  /**
   * The first denial among `requests` made with `accessKeyId`, or undefined
   * when all are allowed. Requests of the operator (any key that is not a
   * role's) and requests while not enforcing are not evaluated.
   */
  async check(
    accessKeyId: string | undefined,
    requests: AuthorizationRequest[],
  ): Promise<Denial | undefined> {
    const identity = identityForAccessKey(accessKeyId);
    if (!identity || !this.policies) return undefined;
    return this.checkAs(identity, requests);
  }

  async checkAs(
    identity: LocalIdentity,
    requests: AuthorizationRequest[],
  ): Promise<Denial | undefined> {
    if (!this.policies) return undefined;
    for (const request of requests) {
      this.stats.checked += 1;
      if (await this.allowed(identity, request)) continue;
      const denial = denialFor(identity, request);
      this.stats.denied += 1;
      if (this.stats.denials.length < DENIALS_KEPT) this.stats.denials.push(denial);
      return denial;
    }
    return undefined;
  }

  /** Checks as the state machine's role (its integrations are called in-process). */
  checkStateMachine(requests: AuthorizationRequest[]): Promise<Denial | undefined> {
    return this.checkAs(LOCAL_IDENTITIES.stateMachine, requests);
  }

  private allowed(identity: LocalIdentity, request: AuthorizationRequest): Promise<boolean> {
    // Same role, action, resource and context: same answer (the policies are
    // fixed while enforcing, and no policy here reads a time-varying key).
    // One simulation costs milliseconds, and every image has its own object
    // ARN; so the resource enters the key as which of the role's Resource
    // patterns it matches (the only way a resource can change the answer),
    // unless a pattern uses a policy variable.
    const patterns = this.patternsOf(identity);
    const resourceKey = patterns ? resourceSignature(request.resource, patterns) : request.resource;
    const key = JSON.stringify([identity.role, request.action, resourceKey, request.context]);
    let decision = this.decisions.get(key);
    if (!decision) {
      decision = this.simulate(identity, request);
      this.decisions.set(key, decision);
    }
    return decision;
  }

  private readonly patterns = new Map<string, RegExp[] | undefined>();

  /** The role's Resource and NotResource patterns as regular expressions; undefined if any has a variable. */
  private patternsOf(identity: LocalIdentity): RegExp[] | undefined {
    if (this.patterns.has(identity.role)) return this.patterns.get(identity.role);
    const texts = new Set<string>();
    for (const { policy } of this.policies?.[identity.role] ?? []) {
      for (const statement of policy.Statement) {
        for (const value of [statement.Resource, statement.NotResource].flat()) {
          if (typeof value === "string") texts.add(value);
        }
      }
    }
    const compiled = [...texts].some((text) => text.includes("${"))
      ? undefined
      : [...texts].map(globToRegExp);
    this.patterns.set(identity.role, compiled);
    return compiled;
  }

  private async simulate(identity: LocalIdentity, request: AuthorizationRequest): Promise<boolean> {
    const policies = this.policies?.[identity.role] ?? [];
    const response = await runSimulation(
      {
        identityPolicies: policies as never,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        request: {
          action: request.action,
          principal: identity.principalArn,
          resource: { accountId: LOCAL_ACCOUNT, resource: request.resource },
          contextVariables: {
            "aws:PrincipalArn": identity.principalArn,
            "aws:PrincipalAccount": LOCAL_ACCOUNT,
            // The real endpoints are HTTPS.
            "aws:SecureTransport": "true",
            ...request.context,
          },
        },
      },
      {},
    );
    if (response.resultType === "error") {
      throw new Error(
        `IAM evaluation of ${request.action} on ${request.resource} failed: ${JSON.stringify(
          response.errors,
        )}`,
      );
    }
    return response.overallResult === "Allowed";
  }
}

/** IAM's resource wildcards: `*` any run of characters, `?` one character. */
function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split("")
    .map((character) =>
      character === "*"
        ? ".*"
        : character === "?"
          ? "."
          : character.replace(/[.+^$()|[\]{}\\]/g, "\\$&"),
    )
    .join("");
  return new RegExp(`^${body}$`, "s");
}

/**
 * The ARN's partition, service, region and account exactly, and which
 * patterns the whole ARN matches: two resources with the same signature
 * get the same answer from the same statements.
 */
function resourceSignature(resource: string, patterns: RegExp[]): string {
  const prefix = resource.split(":").slice(0, 5).join(":");
  return `${prefix}|${patterns.map((pattern) => (pattern.test(resource) ? "1" : "0")).join("")}`;
}

function denialFor(identity: LocalIdentity, request: AuthorizationRequest): Denial {
  return {
    role: identity.logicalId,
    principalArn: identity.principalArn,
    action: request.action,
    resource: request.resource,
    message: `User: ${identity.principalArn} is not authorized to perform: ${request.action} on resource: ${request.resource} because no identity-based policy allows the ${request.action} action`,
  };
}
