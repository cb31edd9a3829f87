import { type _Object, paginateListObjectsV2, type S3Client } from "@aws-sdk/client-s3";

/** One listed object, with the fields the job uses always present. */
export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

/**
 * Every object under `prefix`, page by page (ListObjectsV2 through the SDK
 * paginator), in S3's key order. Keys arrive exactly as stored: no
 * `EncodingType=url`, so nothing needs decoding and `+`, spaces and unicode
 * pass through unchanged.
 */
export async function* listObjects(
  s3: S3Client,
  opts: { bucket: string; prefix: string; pageSize?: number },
): AsyncGenerator<ListedObject> {
  const pages = paginateListObjectsV2(
    { client: s3, pageSize: opts.pageSize },
    { Bucket: opts.bucket, Prefix: opts.prefix === "" ? undefined : opts.prefix },
  );
  for await (const page of pages) {
    for (const object of page.Contents ?? []) {
      const listed = toListed(object);
      if (listed) yield listed;
    }
  }
}

function toListed(object: _Object): ListedObject | undefined {
  if (object.Key === undefined) return undefined;
  return {
    key: object.Key,
    size: object.Size ?? 0,
    etag: object.ETag ?? "",
    lastModified: object.LastModified ?? new Date(0),
  };
}
