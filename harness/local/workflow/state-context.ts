import type { Clock } from "../../../src/runtime.ts";
import { type AslDefinition, type AslState, isObject } from "./asl.ts";

/**
 * `$$.State.Name` and `$$.State.EnteredTime` for the context object.
 * aws-local-stepfunctions does not provide them, but it looks every state up
 * in `States` just before entering it; a proxy on `States` sees that lookup and
 * updates one mutable object that the context object shares by reference.
 * Concurrent branches of one inline Map or Parallel share it (last entry wins).
 */

export interface StateContext {
  Name: string;
  EnteredTime: string;
}

export function createStateContext(): StateContext {
  return { Name: "", EnteredTime: "" };
}

/** Called as a state is entered, in step with the engine; may throw to fail the execution there. */
export type OnStateEntry = (name: string) => void;

/** A view of `definition` whose state lookups (nested ones included) update `state`. */
export function trackStateEntries(
  definition: AslDefinition,
  state: StateContext,
  clock: Clock,
  onEntry: OnStateEntry = () => {},
): AslDefinition {
  return { ...definition, States: trackStates(definition.States, state, clock, onEntry) };
}

function trackStates(
  states: Record<string, AslState>,
  state: StateContext,
  clock: Clock,
  onEntry: OnStateEntry,
): Record<string, AslState> {
  const nested = Object.fromEntries(
    Object.entries(states).map(([name, definition]) => [
      name,
      trackNested(definition, state, clock, onEntry),
    ]),
  );
  return new Proxy(nested, {
    get(target, property, receiver) {
      const found = Reflect.get(target, property, receiver);
      if (typeof property === "string" && Object.hasOwn(target, property)) {
        state.Name = property;
        state.EnteredTime = new Date(clock.now()).toISOString();
        onEntry(property);
      }
      return found;
    },
  });
}

function trackNested(
  definition: AslState,
  state: StateContext,
  clock: Clock,
  onEntry: OnStateEntry,
): AslState {
  const copy: AslState = { ...definition };
  for (const field of ["ItemProcessor", "Iterator"]) {
    const processor = copy[field];
    if (isObject(processor) && isObject(processor.States)) {
      copy[field] = {
        ...processor,
        States: trackStates(processor.States as Record<string, AslState>, state, clock, onEntry),
      };
    }
  }
  if (Array.isArray(copy.Branches)) {
    copy.Branches = copy.Branches.map((branch: unknown) =>
      isObject(branch) && isObject(branch.States)
        ? {
            ...branch,
            States: trackStates(branch.States as Record<string, AslState>, state, clock, onEntry),
          }
        : branch,
    );
  }
  return copy;
}
