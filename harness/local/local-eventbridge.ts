/**
 * The local stand-in for the workflow's EventBridge PutEvents integration
 * (`arn:aws:states:::events:putEvents`): it keeps what would have been put on
 * the bus, so local runs and tests can read the run's event, and checks the
 * request as EventBridge does.
 */
import { randomUUID } from "node:crypto";
import { InvalidRunInputError } from "../../src/errors.ts";
import { LOCAL_ACCOUNT, LOCAL_REGION } from "./workflow/asl.ts";

export const EVENTS_PUT_RESOURCE = "arn:aws:states:::events:putEvents";

/** EventBridge: at most 10 entries per PutEvents, 256 KB per entry. */
export const MAX_PUT_EVENTS_ENTRIES = 10;
export const MAX_EVENT_ENTRY_BYTES = 256 * 1024;

/** The ARN of a bus given by name (`default`) or by ARN, as IAM sees it locally. */
export function localEventBusArn(nameOrArn: string): string {
  if (nameOrArn.startsWith("arn:")) return nameOrArn;
  return `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:event-bus/${nameOrArn}`;
}

/** One event as the state put it (Detail parsed), with the bus it went to. */
export interface PutEvent {
  EventBusName: string;
  Source: string;
  DetailType: string;
  Detail: unknown;
  /** The entry's own; on AWS, Step Functions appends the execution's and the state machine's ARNs. */
  Resources: string[];
  EventId: string;
}

interface EntryParameters {
  EventBusName?: string;
  Source?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  Resources?: unknown;
}

export interface LocalEventBus {
  /** Everything put so far, oldest first. */
  events: PutEvent[];
  /** The Task handler for `EVENTS_PUT_RESOURCE`. */
  putEvents(parameters: { Entries?: EntryParameters[] }): {
    Entries: { EventId: string }[];
    FailedEntryCount: number;
  };
}

/**
 * EventBridge's entry size: the UTF-8 bytes of Source, DetailType, Detail and
 * each Resource (plus 14 bytes for a Time, which the integration does not set).
 */
export function eventEntryBytes(entry: {
  Source: string;
  DetailType: string;
  Detail: string;
  Resources: string[];
}): number {
  const bytes = (text: string) => Buffer.byteLength(text, "utf8");
  return (
    bytes(entry.Source) +
    bytes(entry.DetailType) +
    bytes(entry.Detail) +
    entry.Resources.reduce((sum, resource) => sum + bytes(resource), 0)
  );
}

export function createLocalEventBus(): LocalEventBus {
  const events: PutEvent[] = [];
  return {
    events,
    putEvents(parameters) {
      const entries = parameters?.Entries;
      if (!Array.isArray(entries) || entries.length === 0) {
        throw new InvalidRunInputError("PutEvents needs Entries (1 to 10 of them)");
      }
      if (entries.length > MAX_PUT_EVENTS_ENTRIES) {
        throw new InvalidRunInputError(
          `PutEvents takes at most ${MAX_PUT_EVENTS_ENTRIES} entries, got ${entries.length}`,
        );
      }
      const accepted: PutEvent[] = entries.map((entry, index) => {
        const { Source, DetailType, Detail } = entry ?? {};
        if (typeof Source !== "string" || Source === "") {
          throw new InvalidRunInputError(`PutEvents entry ${index} has no Source`);
        }
        if (typeof DetailType !== "string" || DetailType === "") {
          throw new InvalidRunInputError(`PutEvents entry ${index} has no DetailType`);
        }
        // The optimised integration takes Detail as a JSON object or a JSON string.
        const detailText = typeof Detail === "string" ? Detail : JSON.stringify(Detail);
        let parsed: unknown;
        try {
          parsed = JSON.parse(detailText ?? "");
        } catch {
          throw new InvalidRunInputError(`PutEvents entry ${index} has a Detail that is not JSON`);
        }
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
          throw new InvalidRunInputError(`PutEvents entry ${index} Detail must be a JSON object`);
        }
        const allResources = Array.isArray(entry.Resources) ? entry.Resources.map(String) : [];
        const size = eventEntryBytes({
          Source,
          DetailType,
          Detail: detailText,
          Resources: allResources,
        });
        if (size > MAX_EVENT_ENTRY_BYTES) {
          throw new InvalidRunInputError(
            `PutEvents entry ${index} is ${size} bytes, over EventBridge's ${MAX_EVENT_ENTRY_BYTES}`,
          );
        }
        return {
          EventBusName: entry.EventBusName ?? "default",
          Source,
          DetailType,
          Detail: parsed,
          Resources: allResources,
          EventId: randomUUID(),
        };
      });
      events.push(...accepted);
      return { Entries: accepted.map(({ EventId }) => ({ EventId })), FailedEntryCount: 0 };
    },
  };
}
