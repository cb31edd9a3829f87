/**
 * The AWS SDK prints a notice on Node 20 that its releases from 2027 on need
 * Node 22. It says nothing about this run, so the local tools silence it;
 * imported first so it is set before the SDK loads.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
