// Resolves `${file(./deploy/required-param.cjs):<name>}`, the fallback of a deployment
// parameter that has no default: instead of osls's generic "Cannot resolve variable at
// <path>", the error names the missing parameter and how to pass it.
const EXAMPLES = {
  projectVersionArn:
    "arn:aws:rekognition:<region>:<account>:project/<project>/version/<version>/<digits>",
  imagesBucket: "<bucket holding the images>",
};

module.exports = () =>
  new Proxy(
    {},
    {
      get(_target, name) {
        // osls awaits the value: a Proxy must not look like a promise.
        if (typeof name !== "string" || name === "then") return undefined;
        const example = EXAMPLES[name] ?? "<value>";
        const error = new Error(
          `the deployment parameter ${name} is required: pass --param="${name}=${example}" ` +
            "(see the README, Deploy to AWS)",
        );
        error.stack = error.message;
        throw error;
      },
    },
  );
