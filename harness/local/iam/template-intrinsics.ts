/**
 * Resolves the CloudFormation intrinsic functions the packaged template uses
 * in its IAM policies to the values they would have in the local deployment.
 * An intrinsic it does not know is an error naming it: a policy resolved
 * half-way would be enforced wrongly.
 */

export type TemplateResources = Record<
  string,
  { Type?: string; Properties?: Record<string, unknown> }
>;

export interface IntrinsicContext {
  region: string;
  accountId: string;
  partition: string;
  resources: TemplateResources;
  conditions: Record<string, unknown>;
  /** The template's parameters: a Ref to one takes its default (osls passes no values). */
  parameters?: Record<string, { Default?: unknown }>;
  /** Applied to every string before a condition compares it. */
  prepare?: (value: string) => string;
}

const NO_VALUE = Symbol("AWS::NoValue");

export function resolveIntrinsics(value: unknown, context: IntrinsicContext): unknown {
  const resolved = resolve(value, context);
  return resolved === NO_VALUE ? undefined : resolved;
}

function resolve(value: unknown, context: IntrinsicContext): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => resolve(item, context)).filter((item) => item !== NO_VALUE);
  }
  if (!value || typeof value !== "object") return value;
  const entries = Object.entries(value);
  const [first] = entries;
  if (entries.length === 1 && first && (first[0].startsWith("Fn::") || first[0] === "Ref")) {
    return intrinsic(first[0], first[1], context);
  }
  const out: Record<string, unknown> = {};
  for (const [key, inner] of entries) {
    const resolved = resolve(inner, context);
    if (resolved !== NO_VALUE) out[key] = resolved;
  }
  return out;
}

function pseudo(name: string, context: IntrinsicContext): unknown {
  switch (name) {
    case "AWS::Region":
      return context.region;
    case "AWS::AccountId":
      return context.accountId;
    case "AWS::Partition":
      return context.partition;
    case "AWS::URLSuffix":
      return "amazonaws.com";
    case "AWS::NoValue":
      return NO_VALUE;
    default:
      if (context.parameters && name in context.parameters) {
        return String(context.parameters[name]?.Default ?? "");
      }
      throw new Error(`Cannot resolve Ref ${name} in the packaged IAM policies`);
  }
}

/** Whether the template condition `name` holds (a resource's `Condition`). */
export function conditionHolds(name: string, context: IntrinsicContext): boolean {
  return condition(name, context);
}

function getAtt(logicalId: string, attribute: string, context: IntrinsicContext): string {
  const resource = context.resources[logicalId];
  if (resource?.Type === "AWS::Lambda::Function" && attribute === "Arn") {
    const name = resolve(resource.Properties?.FunctionName, context);
    if (typeof name !== "string") throw new Error(`Function ${logicalId} has no FunctionName`);
    return `arn:${context.partition}:lambda:${context.region}:${context.accountId}:function:${name}`;
  }
  throw new Error(
    `Cannot resolve Fn::GetAtt ${logicalId}.${attribute} in the packaged IAM policies`,
  );
}

function condition(name: string, context: IntrinsicContext): boolean {
  if (!(name in context.conditions)) throw new Error(`Unknown template condition ${name}`);
  return Boolean(evaluate(context.conditions[name], context));
}

function evaluate(value: unknown, context: IntrinsicContext): unknown {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const [key, argument] = Object.entries(value)[0] ?? [];
    const args = argument as unknown[];
    const prepare = (item: unknown) => {
      const resolved = resolve(item, context);
      return typeof resolved === "string" && context.prepare ? context.prepare(resolved) : resolved;
    };
    switch (key) {
      case "Fn::Equals":
        return JSON.stringify(prepare(args[0])) === JSON.stringify(prepare(args[1]));
      case "Fn::Not":
        return !evaluate(args[0], context);
      case "Fn::And":
        return args.every((item) => evaluate(item, context));
      case "Fn::Or":
        return args.some((item) => evaluate(item, context));
      case "Condition":
        return condition(String(argument), context);
    }
  }
  return resolve(value, context);
}

function intrinsic(name: string, argument: unknown, context: IntrinsicContext): unknown {
  const args = argument as unknown[];
  switch (name) {
    case "Ref":
      return pseudo(String(argument), context);
    case "Fn::Join": {
      const [separator, items] = args as [string, unknown];
      const parts = resolve(items, context) as unknown[];
      return parts.map(String).join(separator);
    }
    case "Fn::Select": {
      const index = Number(resolve(args[0], context));
      const list = resolve(args[1], context) as unknown[];
      if (!Array.isArray(list) || index < 0 || index >= list.length) {
        throw new Error(`Fn::Select index ${index} out of range`);
      }
      return list[index];
    }
    case "Fn::Split": {
      const [separator, source] = args as [string, unknown];
      return String(resolve(source, context)).split(separator);
    }
    case "Fn::If": {
      const [conditionName, whenTrue, whenFalse] = args as [string, unknown, unknown];
      return resolve(condition(conditionName, context) ? whenTrue : whenFalse, context);
    }
    case "Fn::GetAtt": {
      const [logicalId, attribute] = Array.isArray(argument)
        ? (argument as [string, string])
        : (String(argument).split(".") as [string, string]);
      return getAtt(logicalId, attribute, context);
    }
    case "Fn::Sub": {
      const [template, variables = {}] = Array.isArray(argument)
        ? (argument as [string, Record<string, unknown>])
        : [String(argument), {}];
      return template.replace(/\$\{([^}!]+)\}/g, (_, reference: string) => {
        if (reference in variables) return String(resolve(variables[reference], context));
        if (reference.startsWith("AWS::")) return String(pseudo(reference, context));
        const [logicalId, attribute] = reference.split(".");
        if (logicalId && attribute) return getAtt(logicalId, attribute, context);
        throw new Error(`Cannot resolve \${${reference}} in Fn::Sub`);
      });
    }
    default:
      throw new Error(`Cannot resolve ${name} in the packaged IAM policies`);
  }
}
