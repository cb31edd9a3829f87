import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { readJsonLines } from "../../src/json-lines.ts";
import { getObjectJson, getObjectTextIfExists, parseJsonLines } from "../../src/s3-json.ts";

const s3 = new S3Client({ region: "eu-west-1" });
const s3Mock = mockClient(s3);

const body = (text: string) =>
  ({
    transformToString: async () => text,
    transformToByteArray: async () => new Uint8Array(Buffer.from(text)),
  }) as never;

function awsError(name: string, status: number) {
  return Object.assign(new Error(`${name} message`), {
    name,
    $fault: "client",
    $metadata: { httpStatusCode: status },
  });
}

beforeEach(() => s3Mock.reset());

describe("reading S3 objects as JSON", () => {
  it("reads an object as JSON, naming the object when it is not JSON", async () => {
    s3Mock.on(GetObjectCommand, { Key: "good.json" }).resolves({ Body: body('{"a":1}') });
    s3Mock.on(GetObjectCommand, { Key: "bad.json" }).resolves({ Body: body("{oops") });
    const location = { s3, bucket: "b" };
    await expect(getObjectJson({ ...location, key: "good.json" })).resolves.toEqual({ a: 1 });
    await expect(getObjectJson({ ...location, key: "bad.json" })).rejects.toThrow(
      /s3:\/\/b\/bad\.json is not valid JSON/,
    );
  });

  it("answers undefined for a missing object and throws other S3 errors as they are", async () => {
    s3Mock.on(GetObjectCommand, { Key: "gone" }).rejects(awsError("NoSuchKey", 404));
    s3Mock.on(GetObjectCommand, { Key: "denied" }).rejects(awsError("AccessDenied", 403));
    await expect(getObjectTextIfExists({ s3, bucket: "b", key: "gone" })).resolves.toBeUndefined();
    await expect(getObjectTextIfExists({ s3, bucket: "b", key: "denied" })).rejects.toMatchObject({
      name: "AccessDenied",
    });
  });

  it("parses JSON Lines from text or a stream, skipping blank lines and naming a bad line", async () => {
    expect(parseJsonLines('{"a":1}\n\n[2]\r\n"x"\n', "here")).toEqual([{ a: 1 }, [2], "x"]);
    expect(() => parseJsonLines('{"a":1}\n{oops', "here")).toThrow(/here line 2/);
    s3Mock.on(GetObjectCommand).resolves({ Body: body('{"i":1}\n\n{"i":2}\nnope\n') });
    const seen: unknown[] = [];
    await expect(
      (async () => {
        for await (const item of readJsonLines({ s3, bucket: "b", key: "k.jsonl" }))
          seen.push(item);
      })(),
    ).rejects.toThrow(/s3:\/\/b\/k\.jsonl line 4 is not JSON/);
    expect(seen).toEqual([{ i: 1 }, { i: 2 }]);
  });
});
