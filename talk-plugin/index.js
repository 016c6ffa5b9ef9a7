'use strict';
/* Talk 4 server plugin: tokenUserNotFound backed by a flask-talk site's GET /talk/user.
 * Settings (Talk's environment): TALK_FLASK_TALK_USER_URL (required),
 * TALK_FLASK_TALK_TIMEOUT_MS (default 3000), TALK_FLASK_TALK_PROVIDER (default: the
 * token's iss, else "flask-talk"), TALK_JWT_USER_ID_CLAIM (Talk's own, default sub). */
const createTokenUserNotFound = require('./lib/hook').createTokenUserNotFound;

module.exports = {
  // Talk resolves `services/users` for plugins (app-module-path); required on first use.
  tokenUserNotFound: createTokenUserNotFound({
    users: function () { return require('services/users'); }
  })
};
