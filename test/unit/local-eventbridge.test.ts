import { describe, expect, it } from "vitest";
import {
  createLocalEventBus,
  localEventBusArn,
  MAX_EVENT_ENTRY_BYTES,
} from "../../harness/local/local-eventbridge.ts";

describe("the local EventBridge stand-in", () => {
  it("records each entry on the default bus unless one is named, with its detail parsed", () => {
    const bus = createLocalEventBus();
    const answer = bus.putEvents({
      Entries: [
        { Source: "s", DetailType: "d", Detail: { a: 1 } },
        { Source: "s", DetailType: "d", Detail: '{"b":2}', EventBusName: "other" },
      ],
    });
    expect(answer.FailedEntryCount).toBe(0);
    expect(answer.Entries).toHaveLength(2);
    expect(bus.events.map(({ EventBusName, Detail }) => ({ EventBusName, Detail }))).toEqual([
      { EventBusName: "default", Detail: { a: 1 } },
      { EventBusName: "other", Detail: { b: 2 } },
    ]);
    expect(bus.events[0]?.EventId).toBe(answer.Entries[0]?.EventId);
  });

  it("rejects what EventBridge rejects, naming what is wrong", () => {
    const bus = createLocalEventBus();
    expect(() => bus.putEvents({})).toThrow(/needs Entries/);
    expect(() =>
      bus.putEvents({ Entries: Array(11).fill({ Source: "s", DetailType: "d", Detail: {} }) }),
    ).toThrow(/at most 10 entries/);
    expect(() => bus.putEvents({ Entries: [{ DetailType: "d", Detail: {} }] })).toThrow(
      /entry 0 has no Source/,
    );
    expect(() => bus.putEvents({ Entries: [{ Source: "s", Detail: {} }] })).toThrow(
      /no DetailType/,
    );
    expect(() =>
      bus.putEvents({ Entries: [{ Source: "s", DetailType: "d", Detail: "{" }] }),
    ).toThrow(/not JSON/);
    expect(() =>
      bus.putEvents({ Entries: [{ Source: "s", DetailType: "d", Detail: [1] }] }),
    ).toThrow(/JSON object/);
    expect(() =>
      bus.putEvents({
        Entries: [
          { Source: "s", DetailType: "d", Detail: { x: "y".repeat(MAX_EVENT_ENTRY_BYTES) } },
        ],
      }),
    ).toThrow(/over EventBridge's 262144/);
    expect(bus.events).toEqual([]);
  });

  it("names a bus by its ARN for IAM", () => {
    expect(localEventBusArn("default")).toMatch(
      /^arn:aws:events:[a-z0-9-]+:\d{12}:event-bus\/default$/,
    );
    expect(localEventBusArn("arn:aws:events:eu-west-1:1:event-bus/x")).toBe(
      "arn:aws:events:eu-west-1:1:event-bus/x",
    );
  });
});
