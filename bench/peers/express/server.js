// The stack the tutorials use, as a peer for Gatehouse's benchmark (bench/run starts it).
// Express with express-session in a SQLite store, cors with credentials for one allowlisted
// origin, synchroniser CSRF tokens kept in the session (csrf-sync), and Argon2id passwords with
// the same OWASP parameters Gatehouse uses. It answers the same session resource:
// GET /session (check), POST /session (log in). Production settings: NODE_ENV=production,
// one process, no request logging.
//
// Environment: PORT, DB_FILE, BENCH_USERS (how many users bench-0.. to create), BENCH_PASSWORD,
// SESSION_SECRET, APP_ORIGIN.
'use strict';

const crypto = require('node:crypto');
const express = require('express');
const session = require('express-session');
const cors = require('cors');
const argon2 = require('argon2');
const Database = require('better-sqlite3');
const SqliteStore = require('better-sqlite3-session-store')(session);
const { csrfSync } = require('csrf-sync');

const PORT = Number(process.env.PORT || 8090);
const db = new Database(process.env.DB_FILE || 'express-peer.db');
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
  role TEXT NOT NULL, name TEXT, email TEXT, created_at TEXT NOT NULL)`);

const ARGON2 = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const findUser = db.prepare('SELECT * FROM users WHERE username = ?');
const getUser = db.prepare('SELECT * FROM users WHERE id = ?');

async function seedUsers() {
  const count = Number(process.env.BENCH_USERS || 0);
  if (count === 0) return;
  const hash = await argon2.hash(process.env.BENCH_PASSWORD || 'bench password', ARGON2);
  const insert = db.prepare(
    'INSERT OR IGNORE INTO users (username, password_hash, role, name, created_at) VALUES (?, ?, ?, ?, ?)');
  const now = new Date().toISOString();
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(`bench-${i}`, hash, 'user', `Bench User ${i}`, now);
  })();
}

const { generateToken, csrfSynchronisedProtection } = csrfSync({
  getTokenFromRequest: (req) => req.headers['x-csrf-token'],
});

const app = express();
app.disable('x-powered-by');
app.set('trust proxy', false);
app.use(cors({ origin: [process.env.APP_ORIGIN || 'http://localhost:8081'], credentials: true }));
app.use(express.json({ limit: '16kb' }));
app.use(session({
  store: new SqliteStore({ client: db, expired: { clear: true, intervalMs: 300000 } }),
  secret: process.env.SESSION_SECRET || crypto.randomBytes(32).toString('hex'),
  name: 'sid',
  resave: false,
  saveUninitialized: false,
  rolling: false,
  cookie: { httpOnly: true, sameSite: 'lax', secure: false, maxAge: 12 * 3600 * 1000 },
}));
app.use((req, res, next) => {
  res.set({ 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  next();
});

function publicUser(u) {
  return { id: u.id, username: u.username, role: u.role, name: u.name, email: u.email, created_at: u.created_at };
}

app.get('/healthz', (req, res) => res.json({ status: 'ok' }));

app.get('/session', (req, res) => {
  const user = req.session.userId ? getUser.get(req.session.userId) : undefined;
  if (!user) {
    return res.json({ auth: false, _csrf: generateToken(req) });
  }
  res.json({
    auth: true,
    id: req.session.publicId,
    username: user.username,
    user: publicUser(user),
    _csrf: generateToken(req),
    expires_at: req.session.cookie.expires.toISOString(),
  });
});

app.post('/session', csrfSynchronisedProtection, async (req, res, next) => {
  try {
    const { username, password } = req.body || {};
    if (typeof username !== 'string' || typeof password !== 'string' || !username || !password) {
      return res.status(422).json({ error: { code: 'validation_failed' } });
    }
    const user = findUser.get(username);
    const ok = user ? await argon2.verify(user.password_hash, password) : false;
    if (!ok) return res.status(401).json({ error: { code: 'invalid_credentials' } });
    // A new session id on login (session fixation).
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = user.id;
      req.session.publicId = crypto.randomBytes(16).toString('base64url');
      const body = {
        auth: true,
        id: req.session.publicId,
        username: user.username,
        user: publicUser(user),
        _csrf: generateToken(req, true),
        expires_at: req.session.cookie.expires.toISOString(),
      };
      req.session.save((err2) => (err2 ? next(err2) : res.json(body)));
    });
  } catch (e) {
    next(e);
  }
});

app.use((err, req, res, next) => {
  if (res.headersSent) return next(err);
  const status = err.code === 'EBADCSRFTOKEN' ? 403 : err.status || 500;
  res.status(status).json({ error: { code: status === 403 ? 'csrf_token_invalid' : 'internal' } });
});

seedUsers().then(() => {
  app.listen(PORT, '127.0.0.1', () => console.error(`express peer listening on 127.0.0.1:${PORT}`));
});
