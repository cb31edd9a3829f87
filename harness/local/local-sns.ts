/**
 * The local stand-in for the workflow's SNS Publish integration
 * (`arn:aws:states:::sns:publish`): it keeps what would have been published,
 * so local runs and tests can read the alert, and answers like SNS does.
 */
import { randomUUID } from "node:crypto";
import { InvalidRunInputError } from "../../src/errors.ts";

export const SNS_PUBLISH_RESOURCE = "arn:aws:states:::sns:publish";

/** One message as the Notify state passed it to SNS Publish. */
export interface PublishedMessage {
  TopicArn: string;
  Subject?: string;
  Message: string;
  MessageId: string;
}

export interface LocalTopic {
  /** Everything published so far, oldest first. */
  messages: PublishedMessage[];
  /** The Task handler for `SNS_PUBLISH_RESOURCE`. */
  publish(parameters: { TopicArn?: string; Subject?: string; Message?: string }): {
    MessageId: string;
  };
}

export function createLocalTopic(): LocalTopic {
  const messages: PublishedMessage[] = [];
  return {
    messages,
    publish(parameters) {
      // SNS rejects a Publish without a topic or a message; so does the stand-in.
      if (!parameters?.TopicArn || typeof parameters.Message !== "string") {
        throw new InvalidRunInputError("SNS Publish needs TopicArn and Message");
      }
      const MessageId = randomUUID();
      messages.push({
        TopicArn: parameters.TopicArn,
        ...(parameters.Subject !== undefined ? { Subject: parameters.Subject } : {}),
        Message: parameters.Message,
        MessageId,
      });
      return { MessageId };
    },
  };
}
