// Passkeys in Chromium's own virtual authenticator (DevTools protocol `WebAuthn.*`: a platform
// authenticator with resident keys and user verification): add one on the security page, sign
// in with it alone, use it as the second step after the password, remove it; and the bare ES
// module client with the browser's JSON helpers taken away, so its own conversions run. The
// database is asked which sessions exist.
import assert from 'node:assert/strict';

import { ApiClient, newAccount } from './api.js';
import { expectAnonymous, expectSignedInAs, openApp, signIn } from './app.js';
import { scenario, useGatehouse } from './harness.js';

const env = useGatehouse();

/** A virtual platform authenticator for `page` (and the pages of its context's origin). */
async function virtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  };
}

async function signOutAndOpenLogin(page, server) {
  await page.click('#signout');
  await expectAnonymous(page);
  await page.goto(`${server.appOrigin}/#login`);
  await page.locator('#signin-form').waitFor();
}

scenario(env, 'a user adds a passkey, signs in with it alone and after the password, then removes it', async (context) => {
  const server = env.server;
  const account = newAccount('passkey');
  await new ApiClient(server.apiOrigin).signup(account);
  const page = await openApp(context, server, 'login');
  const authenticator = await virtualAuthenticator(page);
  await signIn(page, account);
  await expectSignedInAs(page, account.username);

  // Just signed in, so no password is asked for.
  await page.click('#nav-security');
  await page.locator('#passkeys-section').waitFor();
  await page.fill('#passkey-name', 'Virtual key');
  await page.click('#passkey-add');
  await page.locator('[data-test=passkey-list] li').filter({ hasText: /^Virtual key \(not used yet\)/ }).waitFor();
  await page.locator('[data-test=recovery-codes] li').nth(9).waitFor();
  assert.equal((await page.locator('[data-test=recovery-codes] li').allTextContents()).length, 10);
  await page.locator('[data-test=security-status]').filter({ hasText: /a passkey/ }).waitFor();
  const [credential] = await authenticator.credentials();
  assert.equal(credential.isResidentCredential, true, 'discoverable, for the usernameless login');
  assert.equal(credential.rpId, 'localhost');

  // Signed out, then in with the passkey alone: no username typed.
  await signOutAndOpenLogin(page, server);
  const before = (await server.sessionsOf(account.username)).length;
  await page.click('#passkey-signin');
  await expectSignedInAs(page, account.username);
  assert.equal((await server.sessionsOf(account.username)).length, before + 1);
  const [afterLogin] = await authenticator.credentials();
  assert.ok(afterLogin.signCount > credential.signCount, 'the authenticator signed');

  // With a passkey the password alone is not enough: the passkey is the second step.
  await signOutAndOpenLogin(page, server);
  await signIn(page, account);
  await page.locator('#mfa-form').waitFor();
  assert.equal((await server.sessionsOf(account.username)).length, before, 'no session before the passkey');
  await page.click('#mfa-passkey');
  await expectSignedInAs(page, account.username);

  // Removed (the login is fresh), and then it signs nobody in.
  await page.click('#nav-security');
  await page.locator('[data-test=passkey-list] li').filter({ hasText: /^Virtual key \(last used / }).waitFor();
  await page.click('[data-remove-passkey]');
  await page.locator('[data-test=passkey-list] li').filter({ hasText: 'None yet.' }).waitFor();
  await page.locator('[data-test=security-status]').filter({ hasText: /^Off/ }).waitFor();
  await signOutAndOpenLogin(page, server);
  await page.click('#passkey-signin');
  await page.locator('#signin-error').filter({ hasText: 'That passkey is not registered here.' }).waitFor();
  await expectAnonymous(page);
});

scenario(env, 'the ES module client converts the WebAuthn options and credentials itself where the browser cannot', async (context) => {
  const page = await context.newPage();
  await page.goto(`${env.server.appOrigin}/demo-config.json`);
  await virtualAuthenticator(page);
  const account = newAccount('pkclient');
  const seen = await page.evaluate(async ([api, account]) => {
    // As in a browser without WebAuthn's JSON methods.
    delete PublicKeyCredential.parseCreationOptionsFromJSON;
    delete PublicKeyCredential.parseRequestOptionsFromJSON;
    delete PublicKeyCredential.prototype.toJSON;
    const { createSession } = await import('/client/gatehouse.js');
    const session = createSession({ baseUrl: api });
    await session.ready;
    const seen = {
      features: session.features,
      helpersGone: !PublicKeyCredential.parseCreationOptionsFromJSON && !('toJSON' in PublicKeyCredential.prototype),
    };
    await session.signup(account);
    const registered = await session.passkeys.register({ name: 'Bare client' });
    seen.registered = { name: registered.passkey.name, codes: registered.recovery_codes.length };
    await session.logout();
    const login = await session.loginWithPasskey();
    seen.loggedIn = { auth: login.auth, username: session.user.username };
    await session.logout();
    const step = await session.login({ username: account.username, password: account.password });
    seen.owed = step.mfaRequired;
    await session.completeLogin({ passkey: true });
    seen.afterSecondStep = session.auth;
    const [passkey] = await session.passkeys.list();
    await session.passkeys.rename(passkey.id, 'Renamed');
    seen.names = (await session.passkeys.list()).map((p) => p.name);
    await session.passkeys.remove(passkey.id);
    seen.left = (await session.passkeys.list()).length;
    return seen;
  }, [env.server.apiOrigin, account]);
  assert.equal(seen.helpersGone, true, 'the client\'s own conversions ran');
  assert.equal(seen.features.passkeys, true);
  assert.deepEqual(seen.registered, { name: 'Bare client', codes: 10 });
  assert.deepEqual(seen.loggedIn, { auth: true, username: account.username });
  assert.deepEqual(seen.owed, ['webauthn', 'recovery_code']);
  assert.equal(seen.afterSecondStep, true);
  assert.deepEqual(seen.names, ['Renamed']);
  assert.equal(seen.left, 0);
});
