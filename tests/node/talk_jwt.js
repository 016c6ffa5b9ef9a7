'use strict';
/* Talk 4's token handling, reproduced with the real `jsonwebtoken` 9 that Talk uses, so
 * the Python tests can ask "would Talk accept this token?" and "mint me a token as Talk's
 * side would". Reads a JSON array of requests on stdin, writes a JSON array of answers.
 *
 * request: {op: "verify", env: {TALK_JWT_*...}, token}  -> {ok, payload} | {ok: false, error}
 *          {op: "sign", env, payload, kid?}             -> {ok, token}
 * Talk's rules reproduced (talk v4.12 secrets.js / services/jwt.js / config.js):
 *  - HS*: the env string is the key; "base64:" prefix -> Buffer.from(rest, 'base64').toString()
 *  - other algs: JSON {kid?, private?, public}; literal "\n" -> newline
 *  - TALK_JWT_SECRETS: array, each with kid; first signs; verify requires header kid
 *  - verify options: algorithms [TALK_JWT_ALG], issuer and audience unless disabled (=== 'TRUE')
 *  - TALK_JWT_ISSUER falls back to TALK_ROOT_URL; audience defaults to 'talk'; expiry '1 day'
 */
const jwt = require('jsonwebtoken');
const crypto = require('crypto');

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
  const verifyKey = c.alg.startsWith('HS') ? crypto.createSecretKey(Buffer.from(key.verify)) : key.verify;
  const options = { algorithms: [c.alg] };
  if (c.issuer) { options.issuer = c.issuer; }
  if (c.audience) { options.audience = c.audience; }
  return jwt.verify(req.token, verifyKey, options);
}

function sign(req) {
  const c = config(req.env);
  const k = keys(req.env, c.alg);
  const key = k.list[0];
  const options = { algorithm: c.alg, jwtid: crypto.randomUUID() };
  if (req.expiresIn !== undefined) { options.expiresIn = req.expiresIn; } else { options.expiresIn = c.expiry; }
  if (c.issuer) { options.issuer = c.issuer; }
  if (c.audience) { options.audience = c.audience; }
  if (k.multi || key.kid) { options.keyid = req.kid || key.kid; }
  return jwt.sign(req.payload, key.sign, options);
}

let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const answers = JSON.parse(input).map((req) => {
    try {
      if (req.op === 'verify') { return { ok: true, payload: verify(req) }; }
      if (req.op === 'sign') { return { ok: true, token: sign(req) }; }
      return { ok: false, error: 'unknown op' };
    } catch (e) {
      return { ok: false, error: e.name + ': ' + e.message };
    }
  });
  process.stdout.write(JSON.stringify(answers));
});
