import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { normalizePrefix } from "../result-keys.ts";
import type { BatchOutput } from "../shapes.ts";
import type { FailedBatch, MapResults } from "./map-results.ts";

/**
 * A run's results from more than one Map run: the manifests a failed Map
 * left (found by listing), the rounds of a re-scaled run (each holds other
 * images, so they add up) and the runs of a redrive (a batch counts once).
 */

/** The ResultWriter manifests under `prefix`, in key order. */
export async function findManifests(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: normalizePrefix(prefix),
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const object of page.Contents ?? []) {
      if (object.Key?.endsWith("/manifest.json")) keys.push(object.Key);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

/** The rounds' map runs, one after the other (batch names made unique per round). */
export function concatMapResults(all: readonly MapResults[]): MapResults {
  const batches = all.flatMap((r) => r.batches);
  const batchNames = all.flatMap((r, round) =>
    r.batches.map((_, index) => `round-${round + 1}/${r.batchNames[index] ?? `batch-${index}`}`),
  );
  const failedBatches = all.flatMap((r, round) =>
    r.failedBatches.map((b) => ({ ...b, name: `round-${round + 1}/${b.name}` })),
  );
  const mapRunArn = all.map((r) => r.mapRunArn).find((arn) => arn !== undefined);
  return { batches, batchNames, failedBatches, ...(mapRunArn ? { mapRunArn } : {}) };
}

/**
 * Merges several map runs' results (a redriven run can leave more than one):
 * a batch counts once, and one that succeeded in any run is not a failure.
 */
export function mergeMapResults(all: readonly MapResults[]): MapResults {
  const batches: BatchOutput[] = [];
  const batchNames: string[] = [];
  const succeeded = new Set<string>();
  for (const result of all) {
    result.batches.forEach((batch, index) => {
      const name = result.batchNames[index] ?? `batch-${batches.length}`;
      if (succeeded.has(name)) return;
      succeeded.add(name);
      batches.push(batch);
      batchNames.push(name);
    });
  }
  const failedBatches: FailedBatch[] = [];
  const failedNames = new Set<string>();
  for (const batch of all.flatMap((r) => r.failedBatches)) {
    if (succeeded.has(batch.name) || failedNames.has(batch.name)) continue;
    failedNames.add(batch.name);
    failedBatches.push(batch);
  }
  const mapRunArn = all.map((r) => r.mapRunArn).find((arn) => arn !== undefined);
  return { batches, batchNames, failedBatches, ...(mapRunArn ? { mapRunArn } : {}) };
}
