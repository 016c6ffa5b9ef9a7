'use strict';
/* tokenUserNotFound: Talk verified the token but knows no user with its id. Ask the site
 * who it is (GET /talk/user with the same token) and create the Talk user the way Talk's
 * own docs do: Users.upsertExternalUser(ctx, id, provider, displayName), plus a `local`
 * profile holding the e-mail. Any failure logs and returns null: the reader then reads
 * anonymously instead of Talk failing the request. */
const lookupUser = require('./lookup').lookupUser;

const DEFAULT_TIMEOUT_MS = 3000;
const PREFIX = '[talk-plugin-flask-talk] ';

/** Value at a dotted path (`user.id`), as lodash `get` reads TALK_JWT_USER_ID_CLAIM. */
function claimAt(object, path) {
  return String(path).split('.').reduce(function (value, part) {
    return value !== null && typeof value === 'object' ? value[part] : undefined;
  }, object);
}

function positiveInt(value, fallback) {
  const number = parseInt(value, 10);
  return number > 0 ? number : fallback;
}

/** Settings from the environment Talk runs with. */
function settingsFromEnv(env) {
  return {
    url: env.TALK_FLASK_TALK_USER_URL || '',
    timeoutMs: positiveInt(env.TALK_FLASK_TALK_TIMEOUT_MS, DEFAULT_TIMEOUT_MS),
    provider: env.TALK_FLASK_TALK_PROVIDER || '',
    userIdClaim: env.TALK_JWT_USER_ID_CLAIM || 'sub'
  };
}

function defaultLogger() {
  return {
    warn: function (message) { console.warn(PREFIX + message); },
    error: function (message) { console.error(PREFIX + message); }
  };
}

function explain(answer) {
  if (answer.kind === 'refused' && answer.status === 401) {
    const why = answer.body && answer.body.error_description ? ': ' + answer.body.error_description : '';
    return 'the site refused the token (401' + why + '). Talk accepted it, so the two sides disagree: '
      + 'run `flask talk check-env` on the site with Talk\'s env file';
  }
  if (answer.kind === 'refused') {
    return 'the site answered ' + answer.status + ' (is TALK_FLASK_TALK_USER_URL the /talk/user route?)';
  }
  return 'the lookup failed (' + answer.reason + ')';
}

async function addEmailProfile(user, email, logger) {
  const id = String(email).trim().toLowerCase();
  const profiles = user.profiles || (user.profiles = []);
  const has = profiles.some(function (p) { return p && p.provider === 'local' && p.id === id; });
  if (has) { return; }
  profiles.push({ provider: 'local', id: id });
  try {
    await user.save();
  } catch (error) {
    // The account exists already (upserted); only the e-mail profile could not be added,
    // typically because another Talk account holds that e-mail.
    profiles.pop();
    logger.warn('user ' + user.id + ' was created, but its e-mail profile could not be saved: '
      + (error && error.message));
  }
}

/**
 * createTokenUserNotFound(options) -> async ({jwt, token}) => user | null
 *   options.users: Talk's users service (`require('services/users')` inside Talk), or a
 *                  function returning it (resolved on first use)
 *   options.url, options.timeoutMs, options.provider, options.userIdClaim: see settingsFromEnv
 *   options.logger: {warn, error}
 */
function createTokenUserNotFound(options) {
  const settings = Object.assign(settingsFromEnv(process.env), options || {});
  const logger = settings.logger || defaultLogger();
  let warnedNoUrl = false;

  function usersService() {
    return typeof settings.users === 'function' ? settings.users() : settings.users;
  }

  return async function tokenUserNotFound(args) {
    const jwt = (args && args.jwt) || {};
    const token = args && args.token;
    if (!settings.url) {
      if (!warnedNoUrl) {
        logger.error('TALK_FLASK_TALK_USER_URL is not set: unknown readers stay anonymous');
        warnedNoUrl = true;
      }
      return null;
    }
    if (typeof token !== 'string' || !token) { return null; }
    const expected = claimAt(jwt, settings.userIdClaim);
    const answer = await lookupUser(settings.url, token, settings.timeoutMs);
    if (answer.kind === 'not_found') { return null; }
    if (answer.kind !== 'user') {
      logger.warn('no Talk user for ' + settings.userIdClaim + '=' + expected + ': ' + explain(answer));
      return null;
    }
    const profile = answer.body;
    if (typeof profile !== 'object' || typeof profile.id !== 'string' || profile.id !== String(expected)) {
      logger.error('the site answered for a different user id than the token\'s '
        + settings.userIdClaim + ' (' + expected + '); not creating a user');
      return null;
    }
    const provider = settings.provider || jwt.iss || 'flask-talk';
    const displayName = String(profile.username || profile.display_name || profile.id);
    try {
      const user = await usersService().upsertExternalUser(null, profile.id, provider, displayName);
      if (!user) { return null; }
      if (profile.email) { await addEmailProfile(user, profile.email, logger); }
      return user;
    } catch (error) {
      logger.error('Talk could not create user ' + profile.id + ': ' + (error && error.message));
      return null;
    }
  };
}

module.exports = {
  createTokenUserNotFound: createTokenUserNotFound,
  settingsFromEnv: settingsFromEnv,
  claimAt: claimAt,
  DEFAULT_TIMEOUT_MS: DEFAULT_TIMEOUT_MS
};
