// The deployment shapes of DESIGN.md §3 in a real browser: host names mapped to loopback, both
// origins over https with a throw-away certificate, and the database asked whether a session
// exists (not only the page). Headless Chromium blocks third-party cookies by default.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { expectAnonymous, expectSignedInAs, openApp, signIn } from './app.js';
import { launchBrowser, launchProfile, repoRoot, screenshot, startGatehouse } from './harness.js';

const HOSTS = ['app.example.test', 'api.example.test', 'app.other.test'];
const certTool = path.join(repoRoot, 'target/debug/examples/test_certificate');
let dir;
let tls;
let browserArgs;

before(async () => {
  if (!existsSync(certTool)) {
    throw new Error(`no ${certTool}: run \`cargo build --example test_certificate\``);
  }
  dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-topology-'));
  execFileSync(certTool, [dir, ...HOSTS]);
  tls = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
  // Trust exactly this certificate's key (no blanket --ignore-certificate-errors).
  const spki = crypto.createPublicKey(readFileSync(tls.cert)).export({ type: 'spki', format: 'der' });
  browserArgs = [
    `--host-resolver-rules=${HOSTS.map((h) => `MAP ${h} 127.0.0.1`).join(', ')}`,
    `--ignore-certificate-errors-spki-list=${crypto.createHash('sha256').update(spki).digest('base64')}`,
  ];
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A browser profile of its own; `allowThirdPartyCookies` turns Chromium's blocking off. */
async function profile({ allowThirdPartyCookies = false } = {}) {
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-profile-'));
  if (allowThirdPartyCookies) {
    mkdirSync(path.join(userDataDir, 'Default'));
    // What chrome://settings/cookies "Allow third-party cookies" writes.
    writeFileSync(path.join(userDataDir, 'Default', 'Preferences'), JSON.stringify({
      profile: { cookie_controls_mode: 0, block_third_party_cookies: false },
    }));
  }
  const context = await launchProfile(userDataDir, browserArgs);
  return {
    context,
    close: async () => {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** One row: its own Gatehouse and browser, torn down and photographed whatever happens. */
function row(name, { server: serverOptions, browser: browserOptions }, body) {
  test(name, { timeout: 90_000 }, async () => {
    const server = await startGatehouse({ tls, ...serverOptions });
    const browser = await profile(browserOptions);
    try {
      await body({ server, context: browser.context });
    } finally {
      await screenshot(browser.context, name);
      await browser.close();
      await server.stop();
    }
  });
}

async function signInAsUser(context, server) {
  const page = await openApp(context, server);
  await signIn(page, { username: 'user', password: server.passwords.user });
  return page;
}

/** Signed in, the session in the database, and still there after a reload (the cookie is sent). */
async function expectWorkingSession(page, server) {
  await expectSignedInAs(page, 'user');
  const sessions = await server.sessionsOf('user');
  assert.equal(sessions.length, 1, 'one session in the database');
  assert.match(sessions[0].userAgent, /HeadlessChrome/, "the browser's session");
  await page.reload();
  await expectSignedInAs(page, 'user');
  return sessions[0];
}

row('same origin over https: the gateway serves app and API, first-party cookies', {
  server: { gateway: true, apiHost: 'app.example.test' },
}, async ({ server, context }) => {
  const page = await signInAsUser(context, server);
  await expectWorkingSession(page, server);
  const cookie = (await context.cookies(server.apiOrigin)).find((c) => c.name === '__Host-gatehouse_session');
  assert.equal(cookie.secure, true);
  assert.equal(cookie.sameSite, 'Lax');
});

row('same site across subdomains: app.example.test calls api.example.test with Lax cookies', {
  server: { apiHost: 'api.example.test', appHost: 'app.example.test' },
}, async ({ server, context }) => {
  const page = await signInAsUser(context, server);
  await expectWorkingSession(page, server);
  const cookie = (await context.cookies(server.apiOrigin)).find((c) => c.name === '__Host-gatehouse_session');
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.partitionKey, undefined, 'first-party: not partitioned');
  await page.click('#signout');
  await expectAnonymous(page);
  assert.deepEqual(await server.sessionsOf('user'), [], 'signing out ends the session in the database');
});

row('cross site with Partitioned cookies works while third-party cookies are blocked', {
  server: { apiHost: 'api.example.test', appHost: 'app.other.test' },
}, async ({ server, context }) => {
  const page = await signInAsUser(context, server);
  await expectWorkingSession(page, server);
  const cookie = (await context.cookies(server.apiOrigin)).find((c) => c.name === '__Host-gatehouse_session');
  assert.equal(cookie.sameSite, 'None');
  assert.equal(cookie.partitionKey, 'https://other.test', "kept in the app site's partition");
});

const unpartitioned = {
  GATEHOUSE__COOKIES__PARTITIONED: 'false',
  GATEHOUSE__COOKIES__ALLOW_UNPARTITIONED_CROSS_SITE: 'true',
};

row('cross site without Partitioned works where third-party cookies are allowed', {
  server: { apiHost: 'api.example.test', appHost: 'app.other.test', env: unpartitioned },
  browser: { allowThirdPartyCookies: true },
}, async ({ server, context }) => {
  const page = await signInAsUser(context, server);
  await expectWorkingSession(page, server);
  const cookie = (await context.cookies(server.apiOrigin)).find((c) => c.name === '__Host-gatehouse_session');
  assert.equal(cookie.partitionKey, undefined);
});

row('cross site without Partitioned, third-party cookies blocked: the app says cookie_not_stored', {
  server: { apiHost: 'api.example.test', appHost: 'app.other.test', env: unpartitioned },
}, async ({ server, context }) => {
  const page = await signInAsUser(context, server);
  const message = page.locator('#signin-error');
  await message.filter({ hasText: /did not keep the session cookie/ }).waitFor();
  assert.match(await message.textContent(), /gatehouse doctor --app-origin https:\/\/app\.other\.test:\d+/);
  await expectAnonymous(page);
  assert.deepEqual(await server.sessionsOf('user'), [], 'no session was created');
  assert.deepEqual(await context.cookies(server.apiOrigin), [], 'the browser kept no cookie');
});

test('the JS client raises cookie_not_stored when the browser drops the cookies', { timeout: 90_000 }, async () => {
  const server = await startGatehouse({ tls, apiHost: 'api.example.test', appHost: 'app.other.test', env: unpartitioned });
  const browser = await launchBrowser(browserArgs);
  try {
    const page = await browser.newPage();
    await page.goto(`${server.appOrigin}/`);
    const outcome = await page.evaluate(async ({ api, password }) => {
      const { createSession } = await import('/client/gatehouse.js');
      const session = createSession({ baseUrl: api });
      await session.ready;
      try {
        await session.login({ username: 'user', password });
        return { code: 'none', auth: session.auth };
      } catch (error) {
        return { code: error.code, status: error.status, auth: session.auth, message: error.message };
      }
    }, { api: server.apiOrigin, password: server.passwords.user });
    assert.equal(outcome.code, 'cookie_not_stored', JSON.stringify(outcome));
    assert.equal(outcome.status, 0);
    assert.equal(outcome.auth, false);
    assert.match(outcome.message, /docs\/cookies\.md/);
    assert.deepEqual(await server.sessionsOf('user'), []);
  } finally {
    await browser.close();
    await server.stop();
  }
});
