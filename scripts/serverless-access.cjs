/**
 * A local Serverless Framework plugin (serverless.yml `plugins`): before anything is packaged or
 * deployed, checks the access params (custom.access: publicDemo, authIssuer, authClientId) and says
 * in one line who may call the data routes; a public demo is announced as a warning.
 */
'use strict';

class AccessParams {
  constructor(serverless, _options, utils) {
    this.serverless = serverless;
    this.log = utils?.log ?? { notice: console.log, warning: console.warn };
    this.hooks = { 'before:package:initialize': () => this.check() };
  }

  check() {
    const { publicDemo, authIssuer = '', authClientId = '' } = this.serverless.service.custom.access ?? {};
    const fail = (message) => {
      throw new this.serverless.classes.Error(message);
    };
    if (publicDemo !== 'true' && publicDemo !== 'false' && publicDemo !== true && publicDemo !== false)
      fail(`param publicDemo must be "true" or "false", got "${publicDemo}"`);
    const isPublic = String(publicDemo) === 'true';
    if (isPublic && (authIssuer || authClientId))
      fail('param publicDemo=true turns sign-in off: leave authIssuer and authClientId empty');
    if (Boolean(authIssuer) !== Boolean(authClientId))
      fail('params authIssuer and authClientId go together (an existing user pool and its app client)');
    if (authIssuer && !/^https:\/\/[^/?#]+\/[^?#]*[^/?#]$/.test(authIssuer))
      fail(
        `param authIssuer must be the pool's https issuer URL without a trailing '/', got "${authIssuer}"`,
      );
    if (isPublic)
      this.log.warning(
        'PUBLIC DEMO (publicDemo=true): anyone with the URL can search, view, upload and classify, without signing in',
      );
    else
      this.log.notice(
        authIssuer
          ? `Private: the data routes need access tokens of ${authIssuer} (app client ${authClientId})`
          : "Private: the data routes need sign-in to the stack's Cognito user pool (npm run users -- add <email>)",
      );
  }
}

module.exports = AccessParams;
