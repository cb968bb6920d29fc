// Two-step login in the demo app: set up TOTP on the security page with codes this test
// computes from the key the page shows (RFC 6238), sign in with password and code, sign in
// with a recovery code, and turn it off again; the database is asked which sessions exist.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { ApiClient, newAccount } from './api.js';
import { expectAnonymous, expectSignedInAs, openApp, signIn } from './app.js';
import { scenario, useGatehouse } from './harness.js';

const env = useGatehouse();

/** RFC 4648 base32, as authenticator apps read the key. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  return Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
}

/** The six-digit code of `key` for the 30-second step `offset` steps from now (RFC 6238). */
function totp(key, offset = 0) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30) + offset));
  const mac = crypto.createHmac('sha1', base32(key)).update(counter).digest();
  const at = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

scenario(env, 'a user turns on a code app and then signs in with password and code', async (context) => {
  const server = env.server;
  const account = newAccount('twostep');
  await new ApiClient(server.apiOrigin).signup(account);

  const page = await openApp(context, server, 'login');
  await signIn(page, account);
  await expectSignedInAs(page, account.username);
  await page.click('#nav-security');
  await page.locator('[data-test=security-status]').filter({ hasText: /^Off/ }).waitFor();
  await page.fill('#totp-password', account.password);
  await page.click('#totp-begin');
  await page.locator('#totp-confirm-form').waitFor();
  const key = (await page.locator('[data-test=totp-secret]').textContent()).trim();
  assert.match(key, /^[A-Z2-7]{32}$/);
  assert.match(await page.locator('#totp-qr').getAttribute('src'), /^data:image\/svg\+xml;base64,/);
  // The step after the one enrolment uses is still in the ±1 window and is fresh.
  await page.fill('#totp-code', totp(key));
  await page.click('#totp-confirm');
  await page.locator('[data-test=recovery-codes] li').nth(9).waitFor();
  const codes = await page.locator('[data-test=recovery-codes] li').allTextContents();
  assert.equal(codes.length, 10);
  await page.locator('[data-test=security-status]').filter({ hasText: /^On/ }).waitFor();

  // Signed out, then in again: the password, then the code.
  await page.click('#signout');
  await expectAnonymous(page);
  const before = (await server.sessionsOf(account.username)).length;
  await page.goto(`${server.appOrigin}/#login`);
  await signIn(page, account);
  await page.locator('#mfa-form').waitFor();
  assert.equal((await server.sessionsOf(account.username)).length, before, 'no session before the code');
  await page.fill('#mfa-code', totp(key, 1));
  await page.click('#mfa-submit');
  await expectSignedInAs(page, account.username);
  assert.equal((await server.sessionsOf(account.username)).length, before + 1);

  // Another browser signs in with a recovery code; it works once.
  const other = await context.browser().newContext();
  try {
    const second = await openApp(other, server, 'login');
    await signIn(second, account);
    await second.locator('#mfa-form').waitFor();
    await second.fill('#mfa-code', codes[0]);
    await second.check('#mfa-recovery');
    await second.click('#mfa-submit');
    await expectSignedInAs(second, account.username);
    await second.click('#signout');
    await expectAnonymous(second);
    await second.goto(`${server.appOrigin}/#login`);
    await signIn(second, account);
    await second.locator('#mfa-form').waitFor();
    await second.fill('#mfa-code', codes[0]);
    await second.check('#mfa-recovery');
    await second.click('#mfa-submit');
    await second.locator('#mfa-error').filter({ hasText: 'not right' }).waitFor();
  } finally {
    await other.close();
  }

  // Turned off with a recovery code: the password alone signs in again.
  await page.click('#nav-security');
  await page.locator('[data-test=security-status]').filter({ hasText: /^On/ }).waitFor();
  await page.fill('#totp-disable-code', codes[1]);
  await page.click('#totp-disable');
  await page.locator('[data-test=security-status]').filter({ hasText: /^Off/ }).waitFor();
  await page.click('#signout');
  await page.goto(`${server.appOrigin}/#login`);
  await signIn(page, account);
  await expectSignedInAs(page, account.username);
});
