import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { partKeyFor, partLineOf } from "../../src/result-parts.ts";
import type { ImageResultRecord } from "../../src/shapes.ts";

/**
 * The optional Athena table (`resources/athena.cjs`), resolved as `osls` does:
 * each export is called with a `resolveVariable` for the deployment's values.
 */

const require = createRequire(import.meta.url);
const athena = require("../../resources/athena.cjs") as {
  enabled(tools: Tools): Promise<string>;
  database(tools: Tools): Promise<Resource>;
  table(tools: Tools): Promise<Resource>;
  COLUMNS: { Name: string; Type: string }[];
};

type Tools = { resolveVariable(name: string): Promise<unknown> };
// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation resource, read field by field
type Resource = { Type: string; Condition: string; Properties: any };

function tools(values: Record<string, unknown>): Tools {
  const all: Record<string, unknown> = {
    "param:athena": false,
    "param:athenaDatabase": "",
    "sls:stage": "prod",
    "self:custom.resultsBucket": "acme-results",
    "param:resultsPrefix": "labels/",
    ...values,
  };
  return {
    resolveVariable: async (name) => {
      if (!(name in all)) throw new Error(`unexpected variable ${name}`);
      return all[name];
    },
  };
}

/**
 * One line of a result part as docs/athena.md documents it: the
 * table's columns must read every field of it.
 */
const DOCUMENTED_LINE = {
  key: "incoming/cam-1/0001.jpg",
  etag: '"9b2cf535f27731c974343645a3985328"',
  status: "succeeded",
  labels: [
    {
      name: "scratch",
      confidence: 91.5,
      geometry: { bounding_box: { width: 0.2, height: 0.1, left: 0.4, top: 0.3 } },
    },
  ],
  error: null,
  analyzed_at: "2026-11-30T02:14:07.120Z",
  model_version: "arn:aws:rekognition:eu-west-1:111122223333:project/p/version/v1/1",
  schema_version: 1,
};

/** A ledger record of a failed object-detection image with every optional field set. */
const FULL_RECORD: ImageResultRecord = {
  schemaVersion: 2,
  status: "failed",
  image: { bucket: "b", key: "k.jpg", etag: '"e"', size: 1, lastModified: "2026-11-30T00:00:00Z" },
  projectVersionArn: "arn:aws:rekognition:eu-west-1:111122223333:project/p/version/v1/1",
  labels: [
    {
      Name: "scratch",
      Confidence: 91.5,
      Geometry: { BoundingBox: { Width: 0.2, Height: 0.1, Left: 0.4, Top: 0.3 } },
    },
  ],
  error: { name: "InvalidImageFormatException", message: "bad" },
  analyzedAt: "2026-11-30T02:14:07.120Z",
  runId: "r",
  attempts: 1,
};

/** The field names of a Hive type, nested structs included, as paths. */
function hiveFields(type: string, path = ""): string[] {
  const array = /^array<(.*)>$/.exec(type);
  if (array) return hiveFields(array[1] as string, path);
  const struct = /^struct<(.*)>$/.exec(type);
  if (!struct) return [];
  const fields: string[] = [];
  let depth = 0;
  let start = 0;
  const body = struct[1] as string;
  for (let i = 0; i <= body.length; i += 1) {
    const char = body[i];
    if (char === "<") depth += 1;
    if (char === ">") depth -= 1;
    if ((char === "," && depth === 0) || i === body.length) {
      const field = body.slice(start, i);
      const colon = field.indexOf(":");
      const name = field.slice(0, colon);
      fields.push(`${path}${name}`, ...hiveFields(field.slice(colon + 1), `${path}${name}.`));
      start = i + 1;
    }
  }
  return fields;
}

function jsonFields(value: unknown, path = ""): string[] {
  if (Array.isArray(value)) return jsonFields(value[0], path);
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([name, inner]) => [
    `${path}${name}`,
    ...jsonFields(inner, `${path}${name}.`),
  ]);
}

describe("the Athena switch", () => {
  it("is off by default and takes the strings --param gives", async () => {
    expect(await athena.enabled(tools({}))).toBe("false");
    expect(await athena.enabled(tools({ "param:athena": "true" }))).toBe("true");
    expect(await athena.enabled(tools({ "param:athena": " TRUE " }))).toBe("true");
    expect(await athena.enabled(tools({ "param:athena": "0" }))).toBe("false");
  });

  it("rejects anything else, naming the parameter", async () => {
    await expect(athena.enabled(tools({ "param:athena": "yes" }))).rejects.toThrow(
      'athena must be true or false, got "yes"',
    );
  });
});

describe("the Glue database", () => {
  it("is named after the stage by default, in the characters Athena accepts", async () => {
    const db = await athena.database(tools({ "sls:stage": "Team-Dev" }));
    expect(db.Type).toBe("AWS::Glue::Database");
    expect(db.Condition).toBe("AthenaEnabled");
    expect(db.Properties.DatabaseInput.Name).toBe("rekognition_weekly_batch_team_dev");
  });

  it("takes a name from athenaDatabase, and refuses one Athena would not", async () => {
    const db = await athena.database(tools({ "param:athenaDatabase": "shelf_results" }));
    expect(db.Properties.DatabaseInput.Name).toBe("shelf_results");
    await expect(
      athena.database(tools({ "param:athenaDatabase": "Shelf-Results" })),
    ).rejects.toThrow(/athenaDatabase must be lowercase letters, digits and underscores/);
  });
});

describe("the results table", () => {
  it("reads gzip JSON Lines with the OpenX SerDe, one partition per run, projected", async () => {
    const table = await athena.table(tools({}));
    expect(table.Type).toBe("AWS::Glue::Table");
    expect(table.Condition).toBe("AthenaEnabled");
    const input = table.Properties.TableInput;
    expect(input.TableType).toBe("EXTERNAL_TABLE");
    expect(input.PartitionKeys).toEqual([
      expect.objectContaining({ Name: "run_id", Type: "string" }),
    ]);
    expect(input.Parameters).toMatchObject({
      "projection.enabled": "true",
      "projection.run_id.type": "injected",
      compressionType: "gzip",
    });
    // CloudFormation joins the pieces into Athena's `${run_id}` placeholder.
    const template = input.Parameters["storage.location.template"]["Fn::Join"];
    expect((template[1] as string[]).join(template[0])).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena's placeholder, not JavaScript's
      "s3://acme-results/labels/runs/${run_id}/results/",
    );
    expect(input.StorageDescriptor.Location).toBe("s3://acme-results/labels/runs/");
    expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe(
      "org.openx.data.jsonserde.JsonSerDe",
    );
  });

  it("finds the runs under the prefix however it is written", async () => {
    const bare = await athena.table(tools({ "param:resultsPrefix": "labels" }));
    expect(bare.Properties.TableInput.StorageDescriptor.Location).toBe(
      "s3://acme-results/labels/runs/",
    );
    const none = await athena.table(tools({ "param:resultsPrefix": "" }));
    expect(none.Properties.TableInput.StorageDescriptor.Location).toBe("s3://acme-results/runs/");
  });

  it("has a column for every field of the documented line, nested ones included", () => {
    const columns = athena.COLUMNS.flatMap((column) => [
      column.Name,
      ...hiveFields(column.Type, `${column.Name}.`),
    ]);
    const documented = jsonFields({ ...DOCUMENTED_LINE, error: { name: "n", message: "m" } });
    expect(columns.sort()).toEqual(documented.sort());
    // The partition is not a field of the line (a field of that name would be shadowed).
    expect(columns).not.toContain("run_id");
  });

  it("has a column for every field of the line the batches write, and no other", () => {
    const columns = athena.COLUMNS.flatMap((column) => [
      column.Name,
      ...hiveFields(column.Type, `${column.Name}.`),
    ]);
    expect(columns.sort()).toEqual(jsonFields(partLineOf(FULL_RECORD)).sort());
  });

  it("reads the folder the batches write their parts to", async () => {
    const table = await athena.table(tools({ "param:resultsPrefix": "labels" }));
    const template =
      table.Properties.TableInput.Parameters["storage.location.template"]["Fn::Join"];
    const folder = (template[1] as string[])
      .join(template[0])
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena's placeholder, not JavaScript's
      .replace("${run_id}", "2026-11-30T02-00-00Z-1f3a");
    const part = `s3://acme-results/${partKeyFor("labels/", "2026-11-30T02-00-00Z-1f3a", "a.jpg")}`;
    expect(part.startsWith(folder)).toBe(true);
    expect(part.slice(folder.length)).toMatch(/^[^/]+\.gz$/);
  });
});
