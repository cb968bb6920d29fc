// Getting back in by mail, the whole way in the demo app with a real SMTP server: sign up with
// an address, confirm it from the mailed link, forget the password, open the reset link, choose
// a new password and be signed in, while the session in another browser is ended.
import assert from 'node:assert/strict';
import { after } from 'node:test';

import { newAccount } from './api.js';
import { expectAnonymous, expectSignedInAs, openApp, signIn } from './app.js';
import { scenario, useGatehouse } from './harness.js';
import { linkIn, startSmtp } from './smtp.js';

const smtp = await startSmtp();
after(() => smtp.stop());
const env = useGatehouse(async () => {}, {
  env: {
    GATEHOUSE__MAIL__TRANSPORT: 'smtp',
    GATEHOUSE__MAIL__SMTP_URL: smtp.url,
    GATEHOUSE__MAIL__RETRY_DELAY_MS: '200',
  },
});

scenario(env, 'a user who forgot the password gets back in through the mailed link', async (context) => {
  const server = env.server;
  const account = newAccount('forgetful');
  const email = `${account.username}@example.com`;

  // Sign up with an address; the banner asks to confirm it; the mailed link does.
  const seen = (await smtp.mails()).length;
  const page = await openApp(context, server, 'signup');
  await page.fill('#signup-username', account.username);
  await page.fill('#signup-password', account.password);
  await page.fill('#signup-confirm', account.password);
  await page.fill('#signup-email', email);
  await page.click('#signup-submit');
  await expectSignedInAs(page, account.username);
  await page.locator('[data-test=verify-banner]').filter({ hasText: email }).waitFor();
  const verification = (await smtp.waitForMails(seen + 1))[seen];
  assert.match(verification, new RegExp(`^To: ${email}`, 'mi'));
  await page.goto(linkIn(verification, 'verify-email'));
  await page.locator('#verify-status').filter({ hasText: `${email} is confirmed` }).waitFor();
  await page.locator('[data-test=verify-banner]').waitFor({ state: 'detached' });

  // Another browser is signed in too.
  const elsewhere = await context.browser().newContext();
  try {
    const other = await openApp(elsewhere, server, 'login');
    await signIn(other, account);
    await expectSignedInAs(other, account.username);
    assert.equal((await server.sessionsOf(account.username)).length, 2);

    // Signed out here, the password forgotten: ask for a link.
    await page.click('#signout');
    await expectAnonymous(page);
    await page.goto(`${server.appOrigin}/#login`);
    await page.click('#forgot-link');
    await page.fill('#forgot-who', email);
    await page.click('#forgot-submit');
    await page.locator('#forgot-done').filter({ hasText: 'a link to choose a new password is on its way' }).waitFor();
    const reset = (await smtp.waitForMails(seen + 2))[seen + 1];
    assert.match(reset, /^Subject: Reset your password/mi);

    // The link opens the app's reset form; the new password signs this browser in.
    await page.goto(linkIn(reset, 'reset'));
    await page.fill('#reset-password', 'a new and better passphrase 5');
    await page.click('#reset-submit');
    await expectSignedInAs(page, account.username);
    assert.equal(new URL(page.url()).hash, '#employees');

    // The other browser's session ended on the server; only this one is left.
    const sessions = await server.sessionsOf(account.username);
    assert.equal(sessions.length, 1, JSON.stringify(sessions));
    await other.reload();
    await expectAnonymous(other);

    // The link worked once.
    await page.goto(linkIn(reset, 'reset'));
    await page.fill('#reset-password', 'yet another passphrase 6');
    await page.click('#reset-submit');
    await page.locator('#reset-error').filter({ hasText: 'no longer valid' }).waitFor();
  } finally {
    await elsewhere.close();
  }
});
