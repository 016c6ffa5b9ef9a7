'use strict';
/* Talk 4's token handling, reproduced with the real `jsonwebtoken` (9, or 8.5.1 as Talk 4.12 pins it), so
 * the Python tests can ask "would Talk accept this token?" and "mint me a token as Talk's
 * side would". Reads a JSON array of requests on stdin, writes a JSON array of answers.
 *
 * request: {op: "verify", env: {TALK_JWT_*...}, token}  -> {ok, payload} | {ok: false, error}
 *          (any request may add lib: 8 to run on jsonwebtoken 8.5.1)
 *          {op: "ms", text}                             -> {ok, value}  (Talk's duration parser, ms 2.1.2)
 *          {op: "dotenv", text}                         -> {ok, value}  (Talk's .env reader, dotenv 4.0.0)
 *          {op: "is_uri", text}                         -> {ok, value}  (Coral's Joi.string().uri())
 *          {op: "sign", env, payload, kid?}             -> {ok, token}
 *          {op: "coral_verify", coral, token}           -> {ok, payload, verifier} | {ok: false, error}
 *          {op: "coral_sign", coral, payload, kid?}     -> {ok, token}   (as a site following Coral's docs)
 *          {op: "raw_sign", alg, key, payload, keyid?}  -> {ok, token}   (forge tokens for rejection tests)
 *          {op: "jwks_verify", jwks, alg, token, env?}  -> {ok, payload}  (key picked by kid from a JWK Set)
 *   coral = {secrets: [{kid, secret, inactiveAt?}], oidc?: bool, tenantId?: string}
 * Talk's rules reproduced (talk v4.12 secrets.js / services/jwt.js / config.js):
 *  - HS*: the env string is the key; "base64:" prefix -> Buffer.from(rest, 'base64').toString()
 *  - other algs: JSON {kid?, private?, public}; literal "\n" -> newline
 *  - TALK_JWT_SECRETS: array, each with kid; first signs; verify requires header kid
 *  - verify options: algorithms [TALK_JWT_ALG], issuer and audience unless disabled (=== 'TRUE')
 *  - TALK_JWT_ISSUER falls back to TALK_ROOT_URL; audience defaults to 'talk'; expiry '1 day'
 */
const crypto = require('crypto');
/* Talk 4.12's yarn.lock pins jsonwebtoken 8.5.1; today's Talk-compatible verifiers use 9.
 * A request with `lib: 8` runs on 8.5.1 (installed under the alias jsonwebtoken8), with the
 * HMAC secret passed as the string Talk passes. */
const LIBS = { 8: require('jsonwebtoken8'), 9: require('jsonwebtoken') };
let jwt = LIBS[9];

function config(env) {
  const alg = env.TALK_JWT_ALG || 'HS256';
  return {
    alg,
    issuer: env.TALK_JWT_DISABLE_ISSUER === 'TRUE' ? undefined : (env.TALK_JWT_ISSUER || env.TALK_ROOT_URL || undefined),
    audience: env.TALK_JWT_DISABLE_AUDIENCE === 'TRUE' ? undefined : (env.TALK_JWT_AUDIENCE || 'talk'),
    expiry: env.TALK_JWT_EXPIRY || '1 day',
  };
}

function secret(spec, alg) {
  if (alg.startsWith('HS')) {
    let s = typeof spec === 'string' ? spec : spec.secret;
    if (s.startsWith('base64:')) { s = Buffer.from(s.substring(7), 'base64').toString(); }
    return { kid: typeof spec === 'string' ? undefined : spec.kid, sign: s, verify: s };
  }
  const obj = typeof spec === 'string' ? JSON.parse(spec) : spec;
  const fix = (pem) => (pem ? pem.replace(/\\n/g, '\n') : null);
  return { kid: obj.kid, sign: fix(obj.private), verify: fix(obj.public) };
}

function keys(env, alg) {
  if (env.TALK_JWT_SECRETS) {
    const list = typeof env.TALK_JWT_SECRETS === 'string' ? JSON.parse(env.TALK_JWT_SECRETS) : env.TALK_JWT_SECRETS;
    return { multi: true, list: list.map((s) => secret(s, alg)) };
  }
  return { multi: false, list: [secret(env.TALK_JWT_SECRET, alg)] };
}

function verify(req) {
  const c = config(req.env);
  const k = keys(req.env, c.alg);
  let key = k.list[0];
  if (k.multi) {
    const header = JSON.parse(Buffer.from(req.token.split('.')[0], 'base64').toString());
    if (!header.kid) { throw new Error('expected kid to exist in the token header, it did not.'); }
    key = k.list.find((s) => s.kid === header.kid);
    if (!key) { throw new Error('expected kid ' + header.kid + ' was not available.'); }
  }
  const hmacKey = jwt === LIBS[8] ? key.verify : crypto.createSecretKey(Buffer.from(key.verify));
  const verifyKey = c.alg.startsWith('HS') ? hmacKey : key.verify;
  const options = { algorithms: [c.alg] };
  if (c.issuer) { options.issuer = c.issuer; }
  if (c.audience) { options.audience = c.audience; }
  return jwt.verify(req.token, verifyKey, options);
}

function sign(req) {
  const c = config(req.env);
  const k = keys(req.env, c.alg);
  // The first key signs, as Talk does; `kid` picks another entry of a key set (rotation tests).
  const key = req.kid ? (k.list.find((s) => s.kid === req.kid) || k.list[0]) : k.list[0];
  const options = { algorithm: c.alg, jwtid: crypto.randomUUID() };
  if (req.expiresIn !== undefined) { options.expiresIn = req.expiresIn; } else { options.expiresIn = c.expiry; }
  if (c.issuer) { options.issuer = c.issuer; }
  if (c.audience) { options.audience = c.audience; }
  if (k.multi || key.kid) { options.keyid = req.kid || key.kid; }
  return jwt.sign(req.payload, key.sign, options);
}

/* Coral 5+ (coralproject/talk server/src/core/server/app/middleware/passport/strategies/
 * verifiers/{oidc,sso,jwt}.ts, services/jwt/index.ts): verifiers are tried OIDC, SSO, JWT;
 * the first whose schema accepts the token is used exclusively. SSO: HS256 only, the
 * admin page's secret used whole (prefix included), no iss/aud checks, exp/nbf checked when
 * present; one active key ignores kid, several use the header kid or are tried in turn. */
const CORAL_ROLES = ['COMMENTER', 'MEMBER', 'STAFF', 'MODERATOR', 'ADMIN'];

function isString(v) { return typeof v === 'string' && v.length > 0; }  // Joi.string(): no ''
function isNumber(v) { return typeof v === 'number' && isFinite(v); }
/* Coral's SSOUserProfileSchema checks url and avatar with Joi.string().uri() (joi 17). */
const Joi = require('joi');
const URI = Joi.string().uri();
function isUri(v) { return isString(v) && !URI.validate(v).error; }

/* Coral keeps user.avatar only when this matches the URL's pathname, and drops it silently
 * otherwise (common/lib/helpers/validateImagePathname.ts; sso.ts isValidImageURL). */
const IMAGE_EXTENSIONS = /\.(jpe?g|gif|png|webp)$/i;
function isValidImageURL(v) {
  try { return IMAGE_EXTENSIONS.test(new URL(v).pathname); } catch (e) { return false; }
}

function oidcSchemaErrors(p) {
  const errors = [];
  ['sub', 'iss', 'aud'].forEach((k) => { if (!isString(p[k])) { errors.push('"' + k + '" is required'); } });
  if (!isNumber(p.exp)) { errors.push('"exp" is required'); }
  return errors;
}

function ssoSchemaErrors(p) {
  const errors = [];
  if (p.jti !== undefined && !isString(p.jti)) { errors.push('"jti" must be a string'); }
  if (p.exp !== undefined && !isNumber(p.exp)) { errors.push('"exp" must be a number'); }
  if (p.iat !== undefined && !isNumber(p.iat)) { errors.push('"iat" must be a number'); }
  const u = p.user;
  if (u === null || typeof u !== 'object' || Array.isArray(u)) { return errors.concat(['"user" is required']); }
  ['id', 'email', 'username'].forEach((k) => { if (!isString(u[k])) { errors.push('"user.' + k + '" is required'); } });
  if (u.badges !== undefined && !(Array.isArray(u.badges) && u.badges.every(isString))) {
    errors.push('"user.badges" must be an array of strings');
  }
  if (u.role !== undefined && CORAL_ROLES.indexOf(u.role) < 0) { errors.push('"user.role" must be one of ' + CORAL_ROLES); }
  if (u.url !== undefined && !isUri(u.url)) { errors.push('"user.url" must be a valid uri'); }
  if (u.avatar !== undefined && !isUri(u.avatar)) { errors.push('"user.avatar" must be a valid uri'); }
  return errors;
}

function coralVerify(req) {
  const coral = req.coral;
  const decoded = jwt.decode(req.token, { complete: true });
  if (!decoded || typeof decoded.payload !== 'object') { throw new Error('TokenInvalidError: not a JWT'); }
  const p = decoded.payload;
  if (coral.oidc && oidcSchemaErrors(p).length === 0) {
    throw new Error('OIDC: the token looks like an OIDC id_token and went to the OIDC verifier (RS256 via JWKS)');
  }
  const errors = ssoSchemaErrors(p);
  if (errors.length) {
    if (coral.tenantId && p.iss === coral.tenantId) { throw new Error('JWT: a Coral session token, not SSO'); }
    throw new Error('TokenInvalidError: SSO: ' + errors.join(', '));
  }
  const now = Date.now();
  const active = coral.secrets.filter((s) => !s.inactiveAt || Date.parse(s.inactiveAt) > now);
  let candidates = active;
  if (active.length === 0) { throw new Error('no verification configuration can be matched'); }
  if (active.length > 1 && decoded.header.kid) {
    candidates = active.filter((s) => s.kid === decoded.header.kid);
    if (!candidates.length) { throw new Error('kid was specified but no matching keys were found'); }
  } else if (active.length === 1) {
    candidates = active;
  }
  let last = null;
  for (const s of candidates) {
    try {
      const payload = jwt.verify(req.token, s.secret, { algorithms: ['HS256'], clockTimestamp: Math.floor(now / 1000) });
      // The user as Coral stores it: e-mail lower-cased, an avatar it cannot use left out.
      const user = Object.assign({}, payload.user, { email: String(payload.user.email).toLowerCase() });
      if (user.avatar !== undefined && !isValidImageURL(user.avatar)) { delete user.avatar; }
      return { payload, user, kid: s.kid };
    } catch (e) { last = e; }
  }
  throw last;
}

function coralSign(req) {
  const active = req.coral.secrets;
  const chosen = req.kid ? active.find((s) => s.kid === req.kid) : active[0];
  const options = { algorithm: 'HS256' };
  if (req.kid) { options.keyid = req.kid; }
  return jwt.sign(req.payload, chosen.secret, options);
}

function rawSign(req) {
  const options = { algorithm: req.alg, noTimestamp: Boolean(req.noTimestamp) };
  if (req.keyid) { options.keyid = req.keyid; }
  let key = req.key;
  if (req.alg.startsWith('HS')) { key = crypto.createSecretKey(Buffer.from(key)); }
  return jwt.sign(req.payload, key, options);
}

/* An operator's other verifier, configured from /.well-known/jwks.json instead of a PEM. */
function jwksVerify(req) {
  const header = jwt.decode(req.token, { complete: true }).header;
  const jwk = req.jwks.keys.find((k) => (header.kid ? k.kid === header.kid : true));
  if (!jwk) { throw new Error('no JWK for kid ' + header.kid); }
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const options = { algorithms: [req.alg] };
  if (req.env) {
    const c = config(req.env);
    if (c.issuer) { options.issuer = c.issuer; }
    if (c.audience) { options.audience = c.audience; }
  }
  return jwt.verify(req.token, key, options);
}

let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const answers = JSON.parse(input).map((req) => {
    jwt = LIBS[req.lib || 9];
    try {
      if (req.op === 'verify') { return { ok: true, payload: verify(req) }; }
      if (req.op === 'sign') { return { ok: true, token: sign(req) }; }
      if (req.op === 'coral_verify') { const r = coralVerify(req); return Object.assign({ ok: true }, r); }
      if (req.op === 'coral_sign') { return { ok: true, token: coralSign(req) }; }
      if (req.op === 'raw_sign') { return { ok: true, token: rawSign(req) }; }
      if (req.op === 'jwks_verify') { return { ok: true, payload: jwksVerify(req) }; }
      if (req.op === 'dotenv') { return { ok: true, value: require('dotenv').parse(req.text) }; }
      if (req.op === 'is_uri') { return { ok: true, value: isUri(req.text) }; }
      if (req.op === 'ms') { const v = require('ms')(req.text); return { ok: true, value: v === undefined ? null : v }; }
      return { ok: false, error: 'unknown op' };
    } catch (e) {
      return { ok: false, error: e.name + ': ' + e.message };
    }
  });
  process.stdout.write(JSON.stringify(answers));
});
