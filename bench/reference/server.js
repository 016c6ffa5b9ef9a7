// The reference token service: Coral's talk-token-example (index.js) rebuilt on the
// packages in the top-level package.json (Express, express-jwt, jsonwebtoken).
//
// Same routes and behaviour as the example:
//   POST /  Bearer token for the *issuer* (subject JWT_ISSUE_SUBJECT, audience
//           JWT_ISSUE_AUDIENCE, issuer JWT_ISSUER); body {"id"}; 201 {"token"} signed for
//           that user (jti, aud JWT_AUDIENCE, iss JWT_ISSUER, exp, sub = id); 401 for an
//           unknown id.
//   GET  /  Bearer token of a reader (aud JWT_AUDIENCE, iss JWT_ISSUER) -> the user JSON
//           from the in-memory db, or 404.
//   express-jwt's UnauthorizedError -> 401 "Not Authorized"; anything else -> 500.
// Differences, all in the reference's favour or neutral: express-jwt 8 needs an explicit
// `algorithms` (HS256, the example's implicit default); the secret is a KeyObject
// (jsonwebtoken 9 is ~40x slower with a string secret); crypto.randomUUID instead of the
// `uuid` package; JWT_EXPIRY goes to jsonwebtoken as the duration string it names.
//
//   node bench/reference/server.js            serve (WORKERS processes, node:cluster)
//   node bench/reference/server.js --issue    print the bootstrap token for POST /
'use strict';

const cluster = require('node:cluster');
const crypto = require('node:crypto');
const express = require('express');
const jwt = require('jsonwebtoken');
const { expressjwt, UnauthorizedError } = require('express-jwt');

const config = {
  port: Number(process.env.PORT || 3000),
  host: process.env.HOST || '127.0.0.1',
  secret: process.env.SECRET || 'secret',
  audience: process.env.JWT_AUDIENCE || 'talk',
  issueSubject: process.env.JWT_ISSUE_SUBJECT || 'TALK_TOKEN_EXAMPLE',
  issueAudience: process.env.JWT_ISSUE_AUDIENCE || 'TALK_TOKEN_EXAMPLE_AUDIENCE',
  issuer: process.env.JWT_ISSUER || 'http://localhost:3000',
  expiry: process.env.JWT_EXPIRY || '6 hours',
  workers: Math.max(1, Number(process.env.WORKERS || 1)),
};
const key = crypto.createSecretKey(Buffer.from(config.secret, 'utf8'));
const algorithms = ['HS256'];

// The example's db.json, with the flask-talk demo's seeded readers.
const db = [
  { id: 'reader-alice', email: 'alice@example.org', username: 'alice' },
  { id: 'reader-bob', email: 'bob@example.org', username: 'bob' },
  { id: 'reader-carol', email: 'carol@example.org', username: 'carol' },
];

function app() {
  const server = express();
  server.disable('x-powered-by');
  server.use(express.json());

  server.post('/', expressjwt({
    secret: key, algorithms, subject: config.issueSubject,
    audience: config.issueAudience, issuer: config.issuer,
  }), (req, res) => {
    const user = db.find((u) => u.id === (req.body && req.body.id));
    if (!user) {
      res.status(401).send('Not Authorized');
      return;
    }
    const token = jwt.sign({}, key, {
      jwtid: crypto.randomUUID(), audience: config.audience, issuer: config.issuer,
      expiresIn: config.expiry, subject: user.id, algorithm: 'HS256',
    });
    res.status(201).json({ token });
  });

  server.get('/', expressjwt({
    secret: key, algorithms, audience: config.audience, issuer: config.issuer,
  }), (req, res) => {
    const user = db.find((u) => u.id === req.auth.sub);
    if (!user) {
      res.status(404).end();
      return;
    }
    res.json(user);
  });

  // eslint-disable-next-line no-unused-vars
  server.use((err, req, res, next) => {
    if (err instanceof UnauthorizedError) {
      res.status(401).send('Not Authorized');
      return;
    }
    res.status(500).end();
  });
  return server;
}

if (process.argv.includes('--issue')) {
  // issue.js: a token without exp that lets the site call POST /.
  process.stdout.write(jwt.sign({}, key, {
    subject: config.issueSubject, audience: config.issueAudience, issuer: config.issuer,
    algorithm: 'HS256',
  }) + '\n');
} else if (config.workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < config.workers; i += 1) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (!signal) process.exitCode = code || 1;
  });
  const stop = () => { for (const id in cluster.workers) cluster.workers[id].kill('SIGTERM'); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const listener = app().listen(config.port, config.host);
  process.on('SIGTERM', () => listener.close(() => process.exit(0)));
}
