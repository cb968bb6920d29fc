// Signing up, in and out of the demo app, across reloads, restarts and tabs.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ApiClient, newAccount } from './api.js';
import { expectAnonymous, expectSignedInAs, fragment, openApp, signIn, whoami } from './app.js';
import { launchProfile, scenario, screenshot, useGatehouse } from './harness.js';

const env = useGatehouse();

scenario(env, 'the first load is anonymous', async (context) => {
  const page = await context.newPage();
  const check = page.waitForResponse((r) => r.url() === `${env.server.apiOrigin}/session`);
  await page.goto(env.server.appOrigin);
  const reply = await (await check).json();
  assert.equal(reply.auth, false);
  assert.equal(typeof reply._csrf, 'string');
  await expectAnonymous(page);
  await page.locator('[data-test=home-anonymous]').waitFor();
  assert.equal(await page.locator('[data-test=home-signed-in]').isVisible(), false);
});

scenario(env, 'signing up checks the form in the browser, shows the server\'s field errors and signs the new user in', async (context) => {
  const page = await openApp(context, env.server, 'signup');
  const signups = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url() === `${env.server.apiOrigin}/users`) signups.push(request);
  });
  const account = newAccount('signup');

  // Parsley refuses what the server would refuse, without asking the server.
  await page.fill('#signup-username', 'ab');
  await page.fill('#signup-password', 'short');
  await page.fill('#signup-confirm', 'short');
  await page.click('#signup-submit');
  await page.locator('#signup-username-errors li').first().waitFor();
  await page.locator('#signup-password-errors li').first().waitFor();
  assert.equal(signups.length, 0, 'an invalid form must not be sent');

  // A common password passes every rule a browser can check: the server's answer is shown.
  await page.fill('#signup-username', account.username);
  await page.fill('#signup-password', 'password');
  await page.fill('#signup-confirm', 'password');
  const refused = page.waitForResponse((r) => r.url() === `${env.server.apiOrigin}/users`);
  await page.click('#signup-submit');
  const refusal = await refused;
  assert.equal(refusal.status(), 422);
  assert.deepEqual((await refusal.json()).error.fields.password, ['too_common']);
  await page.locator('#signup-password-errors .parsley-server-too_common').waitFor();
  await expectAnonymous(page);

  await page.fill('#signup-password', account.password);
  await page.fill('#signup-confirm', account.password);
  await page.click('#signup-submit');
  await expectSignedInAs(page, account.username);
  await page.locator('#employee-list li').first().waitFor();
  assert.equal(fragment(page), 'employees');
});

scenario(env, 'signing in shows who is signed in', async (context) => {
  const page = await openApp(context, env.server);
  await signIn(page, { username: 'user', password: 'not-the-password' });
  await page.locator('#signin-error').filter({ hasText: 'Wrong username or password.' }).waitFor();
  await expectAnonymous(page);

  await signIn(page, { username: 'user', password: env.server.passwords.user });
  await expectSignedInAs(page, 'user');
  await page.locator('#employee-list li').first().waitFor();
});

scenario(env, 'a reload keeps the session', async (context) => {
  const page = await openApp(context, env.server);
  await signIn(page, { username: 'user', password: env.server.passwords.user });
  await expectSignedInAs(page, 'user');
  await page.reload();
  await expectSignedInAs(page, 'user');
});

// A restart is the real thing: the same Chromium profile, closed and launched again. Chromium
// keeps cookies that have an expiry and drops session cookies, as every browser does by default.
async function signInAndRestart(remember) {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-profile-'));
  const name = `the session ${remember ? 'with' : 'without'} remember me after a browser restart`;
  try {
    let browser = await launchProfile(profile);
    const page = await openApp(browser, env.server);
    await signIn(page, { username: 'user', password: env.server.passwords.user, remember });
    await expectSignedInAs(page, 'user');
    await browser.close();

    browser = await launchProfile(profile);
    try {
      return await openApp(browser, env.server).then(async (reopened) => {
        await reopened.waitForLoadState('networkidle');
        return (await whoami(reopened).textContent()).trim();
      });
    } finally {
      await screenshot(browser, name);
      await browser.close();
    }
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

test('remember me survives a browser restart', async () => {
  assert.equal(await signInAndRestart(true), 'Signed in as user (user)');
});

test('a session without remember me ends with the browser', async () => {
  assert.equal(await signInAndRestart(false), 'Not signed in');
});

scenario(env, 'signing out ends the session on the server', async (context) => {
  const page = await openApp(context, env.server);
  await signIn(page, { username: 'user', password: env.server.passwords.user });
  await expectSignedInAs(page, 'user');
  const cookiesBefore = await context.cookies(env.server.apiOrigin);

  await page.click('#signout');
  await expectAnonymous(page);
  assert.equal(fragment(page), '');
  await page.reload();
  await expectAnonymous(page);

  // Whoever kept a copy of the old cookies holds nothing any more.
  const replay = new ApiClient(env.server.apiOrigin);
  for (const cookie of cookiesBefore) replay.cookies.set(cookie.name, cookie.value);
  assert.equal((await replay.request('GET', '/users/me')).status, 401);
});

scenario(env, 'two tabs of the app stay in sync', async (context) => {
  const first = await openApp(context, env.server);
  const second = await openApp(context, env.server, 'employees');
  await second.locator('#signin-form').waitFor();

  await signIn(first, { username: 'user', password: env.server.passwords.user });
  await expectSignedInAs(first, 'user');
  await expectSignedInAs(second, 'user');

  // The second tab's token changed with the login in the first; its sign-out must still work.
  await second.click('#signout');
  await expectAnonymous(second);
  await expectAnonymous(first);
});
