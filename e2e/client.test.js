// The JavaScript client on its own: the ES module from any page of the app origin, and the
// Backbone adapter loaded from a plain <script> (the demo itself loads it with RequireJS).
import assert from 'node:assert/strict';
import { newAccount } from './api.js';
import { scenario, useGatehouse } from './harness.js';

const env = useGatehouse();

/**
 * A page on the app origin with no app running: the demo's config document. (A page made up with
 * `page.route` would not do: Chromium treats it as coming from the public internet and its Local
 * Network Access rules then refuse every call to the API on localhost.)
 */
async function blankAppPage(context) {
  const page = await context.newPage();
  await page.goto(`${env.server.appOrigin}/demo-config.json`);
  return page;
}

scenario(env, 'the ES module client follows the session, rotates its token and reports errors with their codes', async (context) => {
  const page = await blankAppPage(context);
  const account = newAccount('client');
  const seen = await page.evaluate(async ([api, account, userPassword]) => {
    const { createSession } = await import('/client/gatehouse.js');
    const session = createSession({ baseUrl: api });
    const events = [];
    for (const name of ['change:auth', 'change:user', 'unauthenticated', 'forbidden']) {
      session.on(name, (payload) => events.push([name, payload && (payload.code || payload.username || payload)]));
    }
    const failure = (promise) => promise.then(() => null, (e) => ({ name: e.name, status: e.status, code: e.code, fields: e.fields }));

    await session.ready;
    const seen = { anonymous: session.auth };
    seen.badSignup = await failure(session.signup({ username: account.username, password: 'short' }));
    seen.badLogin = await failure(session.login({ username: 'user', password: 'wrong password' }));
    seen.afterBadLogin = session.auth;
    await session.signup(account);
    seen.signedUp = { auth: session.auth, username: session.user.username, role: session.user.role };
    seen.me = (await session.fetch('/users/me')).user.username;
    seen.reports = await failure(session.fetch('/employees/1/reports'));
    await session.logout();
    seen.afterLogout = session.auth;
    seen.anonymousRead = await failure(session.fetch('/users/me'));
    await session.login({ username: 'user', password: userPassword });
    seen.signedIn = session.user.username;
    seen.events = events;
    return seen;
  }, [env.server.apiOrigin, account, env.server.passwords.user]);

  assert.equal(seen.anonymous, false);
  assert.deepEqual(seen.badSignup, { name: 'GatehouseError', status: 422, code: 'validation_failed', fields: { password: ['too_short'] } });
  assert.deepEqual(seen.badLogin, { name: 'GatehouseError', status: 401, code: 'invalid_credentials', fields: {} });
  assert.equal(seen.afterBadLogin, false);
  assert.deepEqual(seen.signedUp, { auth: true, username: account.username, role: 'user' });
  assert.equal(seen.me, account.username);
  assert.equal(seen.reports.status, 403);
  assert.equal(seen.reports.code, 'forbidden');
  assert.equal(seen.afterLogout, false);
  assert.equal(seen.anonymousRead.code, 'unauthenticated');
  // Each unsafe call above carried the token of the moment: sign-up, logout and the final
  // login would each have been refused (csrf_token_invalid) with a stale one.
  assert.equal(seen.signedIn, 'user');
  assert.deepEqual(seen.events, [
    ['change:auth', true], ['change:user', account.username],
    ['forbidden', 'forbidden'],
    ['change:auth', false], ['change:user', null],
    ['unauthenticated', 'unauthenticated'],
    ['change:auth', true], ['change:user', 'user'],
  ]);
});

scenario(env, 'the ES module client tells the other tabs when the user signs in or out', async (context) => {
  const [first, second] = [await blankAppPage(context), await blankAppPage(context)];
  const start = (page) => page.evaluate(async (api) => {
    const { createSession } = await import('/client/gatehouse.js');
    window.session = createSession({ baseUrl: api });
    window.changes = [];
    window.session.on('change:auth', (auth) => window.changes.push(auth));
    await window.session.ready;
  }, env.server.apiOrigin);
  await start(first);
  await start(second);

  await first.evaluate((password) => window.session.login({ username: 'user', password }), env.server.passwords.user);
  await second.waitForFunction(() => window.session.auth && window.session.user.username === 'user');
  await second.evaluate(() => window.session.logout());
  await first.waitForFunction(() => !window.session.auth);
  assert.deepEqual(await first.evaluate(() => window.changes), [true, false]);
  assert.deepEqual(await second.evaluate(() => window.changes), [true, false]);
});

scenario(env, 'the Backbone adapter works from a plain script tag and its sync returns the request', async (context) => {
  const page = await blankAppPage(context);
  for (const script of [
    '/node_modules/jquery/dist/jquery.js',
    '/node_modules/underscore/underscore-umd.js',
    '/node_modules/backbone/backbone.js',
    '/client/backbone-gatehouse.js',
  ]) await page.addScriptTag({ url: script });

  const seen = await page.evaluate(async ([api, password]) => {
    const { SessionModel, AuthenticatedModel, errorOf } = window.BackboneGatehouse;
    const session = new SessionModel(null, { baseUrl: api });
    await new Promise((resolve) => session.getAuth(resolve));
    const anonymous = { auth: session.get('auth'), token: typeof session.get('_csrf') };
    const tokenBefore = session.get('_csrf');
    await session.login({ username: 'user', password });
    const Me = AuthenticatedModel.extend({ url: `${api}/users/me` });
    const me = new Me();
    const request = me.fetch();
    const returned = typeof request.abort === 'function' && typeof request.then === 'function';
    await request;
    const Reports = AuthenticatedModel.extend({ url: `${api}/employees/1/reports` });
    const refusal = await new Promise((resolve) => new Reports().fetch({ error: (model, xhr) => resolve(errorOf(xhr)) }));
    return {
      anonymous,
      rotated: session.get('_csrf') !== tokenBefore,
      auth: session.get('auth'),
      me: me.get('user').username,
      returned,
      refusal: [refusal.status, refusal.code],
    };
  }, [env.server.apiOrigin, env.server.passwords.user]);

  assert.deepEqual(seen, {
    anonymous: { auth: false, token: 'string' },
    rotated: true,
    auth: true,
    me: 'user',
    returned: true,
    refusal: [403, 'forbidden'],
  });
});
