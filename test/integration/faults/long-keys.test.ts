import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import {
  type FaultStack,
  IMAGES_PREFIX,
  readLedger,
  runToCleanFinish,
  seedImages,
  startFaultStack,
} from "../../support/fault-harness.ts";

/**
 * Images whose keys S3 accepts but a file system cannot hold as one name:
 * the embedded S3 once died (ENAMETOOLONG) or half-wrote their results, so the
 * run failed and every later run failed on the wedged data folder.
 */

let fixture: FaultStack | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe("images with long key segments", () => {
  it("are analysed, their results written, and a second run finds them done", async () => {
    fixture = await startFaultStack();
    const { stack } = fixture;
    const sample = await seedImages(stack, 3);
    const source = sample.images[0]?.key as string;
    // 230 bytes: the image fits a file name, its result (".json" appended) did not.
    const longKeys = [230, 240, 255, 1000].map(
      (length) => `${IMAGES_PREFIX}long/${"n".repeat(length - 4)}.jpg`,
    );
    const multiByte = `${IMAGES_PREFIX}mb/${"画".repeat(300)}.jpg`;
    const body = await stack.s3
      .send(new GetObjectCommand({ Bucket: stack.imagesBucket, Key: source }))
      .then((response) => response.Body?.transformToByteArray());
    for (const key of [...longKeys, multiByte]) {
      await stack.s3.send(
        new PutObjectCommand({ Bucket: stack.imagesBucket, Key: key, Body: body }),
      );
    }

    const first = await runToCleanFinish(fixture);
    expect(first.report.succeeded).toBe(3 + longKeys.length + 1);
    const ledger = await readLedger(stack);
    for (const key of [...longKeys, multiByte]) {
      expect(ledger.get(key)?.status, key).toBe("succeeded");
    }

    const second = await runToCleanFinish(fixture);
    expect(second.result.plan?.counts.pending).toBe(0);
  });

  it("a result whose metadata cannot be written does not wedge later runs", async () => {
    fixture = await startFaultStack();
    const { stack } = fixture;
    const body = await stack.s3
      .send(
        new GetObjectCommand({
          Bucket: stack.imagesBucket,
          Key: (await seedImages(stack, 1)).images[0]?.key as string,
        }),
      )
      .then((response) => response.Body?.transformToByteArray());
    await stack.s3.send(
      new PutObjectCommand({
        Bucket: stack.imagesBucket,
        Key: `${IMAGES_PREFIX}${"w".repeat(231)}.png`,
        Body: body,
      }),
    );
    await runToCleanFinish(fixture);
    const again = await runToCleanFinish(fixture);
    expect(again.result.plan?.counts.alreadyDone).toBe(2);
  });
});
