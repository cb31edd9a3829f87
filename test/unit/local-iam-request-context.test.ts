import { describe, expect, it } from "vitest";
import { accessKeyOf } from "../../harness/local/iam/identities.ts";
import {
  rekognitionRequestContext,
  s3RequestContext,
  sfnRequestContext,
} from "../../harness/local/iam/request-context.ts";
import { resolveIntrinsics } from "../../harness/local/iam/template-intrinsics.ts";

/** What IAM is asked for each request the local stack sees. */

describe("S3 REST requests as IAM sees them", () => {
  it("ListObjectsV2 with a prefix: s3:ListBucket on the bucket with s3:prefix, s3:delimiter, s3:max-keys", () => {
    expect(
      s3RequestContext(
        "GET",
        "/images/?list-type=2&prefix=incoming%2F&delimiter=%2F&max-keys=1",
        {},
      ),
    ).toEqual([
      {
        action: "s3:ListBucket",
        resource: "arn:aws:s3:::images",
        context: { "s3:prefix": "incoming/", "s3:delimiter": "/", "s3:max-keys": "1" },
      },
    ]);
  });

  it("a listing without a prefix parameter has no s3:prefix key; an empty one has an empty key", () => {
    expect(s3RequestContext("GET", "/images?list-type=2", {})[0]?.context).toEqual({});
    expect(s3RequestContext("GET", "/images/?list-type=2&prefix=", {})[0]?.context).toEqual({
      "s3:prefix": "",
    });
  });

  it("object reads, writes, deletes and multipart steps", () => {
    const cases: [string, string, string, string][] = [
      ["GET", "/b/incoming/a%20b.jpg", "s3:GetObject", "arn:aws:s3:::b/incoming/a b.jpg"],
      ["HEAD", "/b/k.jpg", "s3:GetObject", "arn:aws:s3:::b/k.jpg"],
      ["GET", "/b/k.jpg?versionId=3", "s3:GetObjectVersion", "arn:aws:s3:::b/k.jpg"],
      ["PUT", "/b/r/k.json", "s3:PutObject", "arn:aws:s3:::b/r/k.json"],
      ["POST", "/b/r/m.jsonl?uploads", "s3:PutObject", "arn:aws:s3:::b/r/m.jsonl"],
      ["PUT", "/b/r/m.jsonl?partNumber=1&uploadId=u", "s3:PutObject", "arn:aws:s3:::b/r/m.jsonl"],
      ["DELETE", "/b/r/m.jsonl?uploadId=u", "s3:AbortMultipartUpload", "arn:aws:s3:::b/r/m.jsonl"],
      ["GET", "/b/r/m.jsonl?uploadId=u", "s3:ListMultipartUploadParts", "arn:aws:s3:::b/r/m.jsonl"],
      ["DELETE", "/b/k", "s3:DeleteObject", "arn:aws:s3:::b/k"],
      ["GET", "/b?location", "s3:GetBucketLocation", "arn:aws:s3:::b"],
      ["HEAD", "/b", "s3:ListBucket", "arn:aws:s3:::b"],
      ["GET", "/", "s3:ListAllMyBuckets", "*"],
    ];
    for (const [method, url, action, resource] of cases) {
      expect(s3RequestContext(method, url, {}), `${method} ${url}`).toEqual([
        { action, resource, context: {} },
      ]);
    }
  });

  it("CopyObject also reads the source", () => {
    expect(
      s3RequestContext("PUT", "/b/to", { "x-amz-copy-source": "/src/from%20x?versionId=1" }),
    ).toEqual([
      { action: "s3:PutObject", resource: "arn:aws:s3:::b/to", context: {} },
      { action: "s3:GetObject", resource: "arn:aws:s3:::src/from x", context: {} },
    ]);
  });
});

describe("JSON protocol targets", () => {
  const version = "arn:aws:rekognition:us-east-1:1:project/p/version/v/1";

  it("Rekognition: the version ARN, the project ARN, or * by operation", () => {
    expect(
      rekognitionRequestContext("StartProjectVersion", { ProjectVersionArn: version }),
    ).toEqual([{ action: "rekognition:StartProjectVersion", resource: version, context: {} }]);
    expect(
      rekognitionRequestContext("DescribeProjectVersions", { ProjectArn: "arn:p" })[0]?.resource,
    ).toBe("arn:p");
    expect(rekognitionRequestContext("DescribeProjects", {})[0]?.resource).toBe("*");
  });

  it("DetectCustomLabels with an S3Object also needs s3:GetObject on the object", () => {
    expect(
      rekognitionRequestContext("DetectCustomLabels", {
        ProjectVersionArn: version,
        Image: { S3Object: { Bucket: "b", Name: "incoming/x.jpg" } },
      }),
    ).toEqual([
      { action: "rekognition:DetectCustomLabels", resource: version, context: {} },
      { action: "s3:GetObject", resource: "arn:aws:s3:::b/incoming/x.jpg", context: {} },
    ]);
    expect(
      rekognitionRequestContext("DetectCustomLabels", {
        ProjectVersionArn: version,
        Image: { Bytes: "AA==" },
      }),
    ).toHaveLength(1);
  });

  it("Step Functions: the state machine, the execution or the Map Run", () => {
    expect(sfnRequestContext("ListExecutions", { stateMachineArn: "arn:sm" })).toEqual([
      { action: "states:ListExecutions", resource: "arn:sm", context: {} },
    ]);
    expect(sfnRequestContext("DescribeExecution", { executionArn: "arn:ex" })[0]?.resource).toBe(
      "arn:ex",
    );
    expect(sfnRequestContext("ListExecutions", { mapRunArn: "arn:mr" })[0]?.resource).toBe(
      "arn:mr",
    );
  });

  it("reads the caller's access key id from the SigV4 Authorization header", () => {
    expect(
      accessKeyOf({
        authorization:
          "AWS4-HMAC-SHA256 Credential=ASIAKEY/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab",
      }),
    ).toBe("ASIAKEY");
    expect(accessKeyOf({})).toBeUndefined();
  });
});

describe("template intrinsics in the packaged policies", () => {
  const context = {
    region: "us-east-1",
    accountId: "000000000000",
    partition: "aws",
    resources: {
      PlanLambdaFunction: {
        Type: "AWS::Lambda::Function",
        Properties: { FunctionName: "svc-plan" },
      },
    },
    conditions: { TopicSet: { "Fn::Not": [{ "Fn::Equals": ["", ""] }] } },
  };

  it("resolves Join, Select, Split, GetAtt, Sub and Ref to local values, and If with NoValue", () => {
    expect(
      resolveIntrinsics(
        [
          {
            "Fn::Join": [
              "",
              [{ "Fn::Select": [0, { "Fn::Split": ["/version/", "arn:p/version/v/1"] }] }, "*"],
            ],
          },
          { "Fn::GetAtt": ["PlanLambdaFunction", "Arn"] },
          // biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub's own syntax
          { "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:x" },
          { "Fn::If": ["TopicSet", "granted", { Ref: "AWS::NoValue" }] },
        ],
        context,
      ),
    ).toEqual([
      "arn:p*",
      "arn:aws:lambda:us-east-1:000000000000:function:svc-plan",
      "arn:aws:logs:us-east-1:000000000000:x",
    ]);
  });

  it("names an intrinsic it cannot resolve", () => {
    expect(() => resolveIntrinsics({ "Fn::ImportValue": "x" }, context)).toThrow(/Fn::ImportValue/);
  });
});

describe("the IAM gate's decision cache", () => {
  it("gives each resource the answer of its own statements, also after caching", async () => {
    const { IamGate } = await import("../../harness/local/iam/iam-gate.ts");
    const gate = new IamGate();
    const statement = (Action: string, Resource: string, Condition?: object) => ({
      Effect: "Allow",
      Action,
      Resource,
      ...(Condition ? { Condition } : {}),
    });
    gate.enforce({
      lambda: [
        {
          name: "p",
          policy: {
            Version: "2012-10-17",
            Statement: [
              statement("s3:GetObject", "arn:aws:s3:::b/in/*"),
              statement("s3:ListBucket", "arn:aws:s3:::b", {
                StringLike: { "s3:prefix": ["in/*"] },
              }),
            ],
          },
        },
      ],
      report: [],
      planShard: [],
      stateMachine: [],
    });
    const key = "ASIALOCALLAMBDAROLE";
    const get = (resource: string) =>
      gate.check(key, [{ action: "s3:GetObject", resource, context: {} }]);
    const list = (context: Record<string, string>) =>
      gate.check(key, [{ action: "s3:ListBucket", resource: "arn:aws:s3:::b", context }]);
    expect(await get("arn:aws:s3:::b/in/a.jpg")).toBeUndefined();
    expect(await get("arn:aws:s3:::b/in/deeper/b.jpg")).toBeUndefined();
    expect(await get("arn:aws:s3:::b/out/a.jpg")).toMatchObject({ action: "s3:GetObject" });
    expect(await get("arn:aws:s3:::other/in/a.jpg")).toMatchObject({ action: "s3:GetObject" });
    expect(await list({ "s3:prefix": "in/" })).toBeUndefined();
    // A listing without a prefix parameter has no s3:prefix: the condition does not match.
    expect(await list({})).toMatchObject({ action: "s3:ListBucket" });
    // The operator's key is not evaluated.
    expect(
      await gate.check("S3RVER", [
        { action: "s3:GetObject", resource: "arn:aws:s3:::other/x", context: {} },
      ]),
    ).toBeUndefined();
    expect(gate.stats).toMatchObject({ checked: 6, denied: 3 });
  });
});
