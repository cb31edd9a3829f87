/**
 * The optional Athena table over the runs' result parts (deployment parameter
 * `athena`, off by default). With it on, the stack gets a Glue database and one
 * table, `results`, that reads `<resultsPrefix>runs/<runId>/results/*.gz`
 * (gzip JSON Lines, one line per image; see docs/athena.md).
 *
 * The run is the partition, `run_id`, with partition projection so that no
 * crawler or `MSCK REPAIR` is needed. Run ids are arbitrary strings (a
 * timestamp with a random suffix, or whatever `--run-id` was given), which only
 * the `injected` projection type can express: `date` cannot parse the suffix and
 * `enum` would need every run listed in the table. The price: a query names its
 * runs (`WHERE run_id = '...'` or `IN (...)`).
 *
 * The resources are always in the template, under the `AthenaEnabled`
 * condition: with it false CloudFormation creates nothing, and no IAM
 * statement refers to them either way (queries run with the caller's rights).
 */

const TRUE = new Set(["true", "1"]);
const FALSE = new Set(["false", "0"]);

/** `athena` as "true" or "false" (a --param value is a string; the default is a YAML boolean). */
function athenaFlag(raw) {
  const text = String(raw ?? "")
    .trim()
    .toLowerCase();
  if (TRUE.has(text)) return "true";
  if (FALSE.has(text)) return "false";
  throw new Error(`athena must be true or false, got ${JSON.stringify(raw)}`);
}

/** Athena wants lowercase letters, digits and underscores in a database name. */
const DATABASE_NAME = /^[a-z0-9_]{1,255}$/;

function databaseName(raw, stage) {
  const given = String(raw ?? "").trim();
  if (given !== "") {
    if (!DATABASE_NAME.test(given)) {
      throw new Error(
        `athenaDatabase must be lowercase letters, digits and underscores (Athena's rule), got ${JSON.stringify(raw)}`,
      );
    }
    return given;
  }
  return `rekognition_weekly_batch_${String(stage)
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, "_")}`;
}

/** The results prefix as the code uses it: "" or ending with "/". */
function normalizePrefix(prefix) {
  const text = String(prefix ?? "");
  return text === "" || text.endsWith("/") ? text : `${text}/`;
}

/** One line of a result part, as Hive columns (the JSON keys, snake_case). */
const COLUMNS = [
  { Name: "key", Type: "string", Comment: "The image's S3 key" },
  { Name: "etag", Type: "string", Comment: "The image's ETag when it was analysed" },
  { Name: "status", Type: "string", Comment: "succeeded, failed or unreadable" },
  {
    Name: "labels",
    Type: "array<struct<name:string,confidence:double,geometry:struct<bounding_box:struct<width:double,height:double,left:double,top:double>>>>",
    Comment: "Custom Labels found (confidence 0-100; geometry for object detection models)",
  },
  {
    Name: "error",
    Type: "struct<name:string,message:string>",
    Comment: "Why the image failed (status failed)",
  },
  { Name: "analyzed_at", Type: "string", Comment: "ISO 8601 time of the analysis (UTC)" },
  { Name: "model_version", Type: "string", Comment: "The project version ARN that analysed it" },
  { Name: "schema_version", Type: "int", Comment: "The line's format version (1)" },
];

async function settings(resolveVariable) {
  const [flag, database, stage, bucket, prefix] = await Promise.all([
    resolveVariable("param:athena"),
    resolveVariable("param:athenaDatabase"),
    resolveVariable("sls:stage"),
    resolveVariable("self:custom.resultsBucket"),
    resolveVariable("param:resultsPrefix"),
  ]);
  return {
    enabled: athenaFlag(flag),
    database: databaseName(database, stage),
    runsUri: `s3://${bucket}/${normalizePrefix(prefix)}runs/`,
  };
}

/** "true" or "false", for the AthenaEnabled condition. */
async function enabled({ resolveVariable }) {
  return (await settings(resolveVariable)).enabled;
}

async function database({ resolveVariable }) {
  const { database: name } = await settings(resolveVariable);
  return {
    Type: "AWS::Glue::Database",
    Condition: "AthenaEnabled",
    Properties: {
      CatalogId: { Ref: "AWS::AccountId" },
      DatabaseInput: {
        Name: name,
        Description: "Rekognition weekly batch: one partition per run of per-image results",
      },
    },
  };
}

async function table({ resolveVariable }) {
  const { runsUri } = await settings(resolveVariable);
  return {
    Type: "AWS::Glue::Table",
    Condition: "AthenaEnabled",
    Properties: {
      CatalogId: { Ref: "AWS::AccountId" },
      DatabaseName: { Ref: "ResultsDatabase" },
      TableInput: {
        Name: "results",
        Description: "One row per image a run analysed or recorded as failed",
        TableType: "EXTERNAL_TABLE",
        Parameters: {
          classification: "json",
          compressionType: "gzip",
          "projection.enabled": "true",
          "projection.run_id.type": "injected",
          // `${run_id}` is Athena's placeholder, split so that neither osls nor
          // CloudFormation reads it as a variable of theirs.
          "storage.location.template": { "Fn::Join": ["", [runsUri, "$", "{run_id}/results/"]] },
        },
        PartitionKeys: [
          { Name: "run_id", Type: "string", Comment: "The run (its folder under runs/)" },
        ],
        StorageDescriptor: {
          Location: runsUri,
          InputFormat: "org.apache.hadoop.mapred.TextInputFormat",
          OutputFormat: "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
          SerdeInfo: {
            SerializationLibrary: "org.openx.data.jsonserde.JsonSerDe",
            // A damaged line fails the query rather than reading as nulls.
            Parameters: { "ignore.malformed.json": "false" },
          },
          Columns: COLUMNS,
        },
      },
    },
  };
}

module.exports = { enabled, database, table };
module.exports.COLUMNS = COLUMNS;
module.exports.athenaFlag = athenaFlag;
module.exports.databaseName = databaseName;
