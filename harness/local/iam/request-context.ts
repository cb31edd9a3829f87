/**
 * The IAM request context AWS builds for a request: which action is
 * authorised, on which resource ARN, with which condition keys. Only keys the
 * request really carries are set: IAM treats an absent key as "no match"
 * (e.g. `s3:prefix` exists only when ListObjects has a `prefix` parameter,
 * even an empty one).
 */

export interface AuthorizationRequest {
  action: string;
  resource: string;
  context: Record<string, string>;
}

const s3Object = (bucket: string, key: string) => `arn:aws:s3:::${bucket}/${key}`;
const s3Bucket = (bucket: string) => `arn:aws:s3:::${bucket}`;

/** A path-style S3 REST request (`/<bucket>/<key>?<query>`) as IAM sees it. */
export function s3RequestContext(
  method: string,
  url: string,
  headers: Record<string, string | string[] | undefined>,
): AuthorizationRequest[] {
  const parsed = new URL(url, "http://local");
  const query = parsed.searchParams;
  const [rawBucket = "", ...rawKey] = parsed.pathname.slice(1).split("/");
  const bucket = decodeURIComponent(rawBucket);
  const key = rawKey.map(decodeURIComponent).join("/");
  const verb = method.toUpperCase();
  const one = (action: string, resource: string, context: Record<string, string> = {}) => [
    { action, resource, context },
  ];

  if (!bucket) return one("s3:ListAllMyBuckets", "*");
  // `/bucket` and `/bucket/` both address the bucket (an object key is never empty).
  if (!key) {
    // Bucket-level operations.
    if (verb === "GET" || verb === "HEAD") {
      if (query.has("location")) return one("s3:GetBucketLocation", s3Bucket(bucket));
      if (query.has("uploads")) return one("s3:ListBucketMultipartUploads", s3Bucket(bucket));
      if (query.has("versions")) return one("s3:ListBucketVersions", s3Bucket(bucket));
      const context: Record<string, string> = {};
      // Present only when the request has the parameter, even empty (`prefix=`).
      for (const [parameter, conditionKey] of [
        ["prefix", "s3:prefix"],
        ["delimiter", "s3:delimiter"],
        ["max-keys", "s3:max-keys"],
      ] as const) {
        const value = query.get(parameter);
        if (value !== null) context[conditionKey] = value;
      }
      return one("s3:ListBucket", s3Bucket(bucket), context);
    }
    if (verb === "PUT") return one("s3:CreateBucket", s3Bucket(bucket));
    if (verb === "DELETE") return one("s3:DeleteBucket", s3Bucket(bucket));
    // DeleteObjects: AWS checks s3:DeleteObject per key of the body; the
    // keys are not read here, so it is checked on every key of the bucket.
    if (verb === "POST" && query.has("delete"))
      return one("s3:DeleteObject", `${s3Bucket(bucket)}/*`);
  }
  const object = s3Object(bucket, key);
  if (verb === "GET" || verb === "HEAD") {
    if (query.has("uploadId")) return one("s3:ListMultipartUploadParts", object);
    return one(query.has("versionId") ? "s3:GetObjectVersion" : "s3:GetObject", object);
  }
  if (verb === "PUT" || verb === "POST") {
    const source = headers["x-amz-copy-source"];
    const put = one("s3:PutObject", object);
    if (typeof source === "string") {
      const [sourcePath = ""] = decodeURIComponent(source).replace(/^\//, "").split("?");
      return [...put, ...one("s3:GetObject", `arn:aws:s3:::${sourcePath}`)];
    }
    return put;
  }
  if (verb === "DELETE") {
    if (query.has("uploadId")) return one("s3:AbortMultipartUpload", object);
    return one("s3:DeleteObject", object);
  }
  throw new Error(`Unrecognised S3 request for IAM: ${method} ${url}`);
}

type Params = Record<string, unknown>;
const text = (value: unknown) => (typeof value === "string" && value ? value : "*");

/**
 * A Rekognition JSON call. DetectCustomLabels with `Image.S3Object` also reads
 * the object with the caller's permissions, so it needs s3:GetObject too.
 */
export function rekognitionRequestContext(
  operation: string,
  params: Params,
): AuthorizationRequest[] {
  const action = `rekognition:${operation}`;
  let resource = "*";
  if (["StartProjectVersion", "StopProjectVersion", "DetectCustomLabels"].includes(operation)) {
    resource = text(params.ProjectVersionArn);
  } else if (operation === "DescribeProjectVersions") {
    resource = text(params.ProjectArn);
  }
  const requests: AuthorizationRequest[] = [{ action, resource, context: {} }];
  const image = params.Image as { S3Object?: { Bucket?: string; Name?: string; Version?: string } };
  const s3 = image?.S3Object;
  if (operation === "DetectCustomLabels" && s3?.Bucket && s3.Name) {
    requests.push({
      action: s3.Version ? "s3:GetObjectVersion" : "s3:GetObject",
      resource: s3Object(s3.Bucket, s3.Name),
      context: {},
    });
  }
  return requests;
}

const SFN_RESOURCE_FIELD: Record<string, string> = {
  StartExecution: "stateMachineArn",
  StartSyncExecution: "stateMachineArn",
  ListExecutions: "stateMachineArn",
  DescribeStateMachine: "stateMachineArn",
  DescribeExecution: "executionArn",
  StopExecution: "executionArn",
  GetExecutionHistory: "executionArn",
  RedriveExecution: "executionArn",
  ListMapRuns: "executionArn",
  DescribeMapRun: "mapRunArn",
};

/** A Step Functions JSON call (`AWSStepFunctions.<Operation>`). */
export function sfnRequestContext(operation: string, params: Params): AuthorizationRequest[] {
  const field = SFN_RESOURCE_FIELD[operation];
  // ListExecutions of a Map Run is authorised on the Map Run.
  const resource =
    operation === "ListExecutions" && typeof params.mapRunArn === "string"
      ? params.mapRunArn
      : text(field ? params[field] : undefined);
  return [{ action: `states:${operation}`, resource, context: {} }];
}
