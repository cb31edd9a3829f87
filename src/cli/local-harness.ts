/**
 * What `--local` and `local` need from the rehearsal harness, defined here so
 * that the product never imports the harness: the harness implements it and
 * its entry point hands it to `runCli`. A production install has no harness,
 * and then both say that they need the development install.
 */
import { UsageError } from "./args.ts";

/**
 * A local stack started in this process, with `process.env` pointing the SDK
 * at it and carrying the local deployment's parameters (buckets, model ARN,
 * state machine ARN) until `close`.
 */
export interface LocalConnection {
  /** The local stack's model version (STOPPED when the command starts). */
  projectVersionArn: string;
  close(): Promise<void>;
}

export interface LocalHarness {
  /** Starts the local stack on the data folder (default `.local-data`). */
  connect(opts: { dataDirectory?: string }): Promise<LocalConnection>;
  /** `npm run local` with `argv`, sharing this terminal; resolves with its exit code. */
  runLocalJob(argv: string[], env: NodeJS.ProcessEnv): Promise<number>;
}

/** `--local` or `local` where no harness was wired in: exit code 2, and no flag to fix. */
export class DevelopmentInstallNeeded extends UsageError {
  override name = "DevelopmentInstallNeeded";
}

export function developmentInstallNeeded(what: string): UsageError {
  return new DevelopmentInstallNeeded(
    `${what} needs the development install: the local stack (embedded S3, Custom Labels emulator, local Step Functions engine) is part of the rehearsal harness, which a production install leaves out. Run it from a clone of the repository after \`npm ci\`.`,
  );
}
