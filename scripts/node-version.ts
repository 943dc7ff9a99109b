/**
 * The AWS SDK warns (8 lines, in every process that makes a client) that it will require Node 22;
 * on an older Node npm start says so once and keeps the children quiet.
 */
export function quietNodeVersionWarning(env: NodeJS.ProcessEnv = process.env, version = process.version) {
  if (Number(version.slice(1).split('.')[0]) >= 22) return undefined;
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  return `note: Node ${version} is past its end of life; this project supports Node 22 or newer (the functions run on nodejs24.x, and the AWS SDK will require 22 from January 2027)`;
}
