// `gatehouse demo --gateway`: the app, the session resource and a sample API behind the gateway
// share one origin, so every cookie is first-party. The sample API reads who is calling from the
// Gatehouse-* headers, and must never see Gatehouse's own cookies.
import assert from 'node:assert/strict';
import { expectAnonymous, expectSignedInAs, openApp, signIn } from './app.js';
import { scenario, useGatehouse } from './harness.js';

const env = useGatehouse(async () => {}, { gateway: true });

scenario(env, 'through the gateway the app signs in, reads the API behind it as the user, and signs out', async (context) => {
  const page = await openApp(context, env.server);
  assert.equal(env.server.appOrigin, env.server.apiOrigin, 'one origin');
  await page.locator('[data-test=home-gateway]').waitFor();
  assert.equal(await page.locator('[data-test=home-cross-origin]').isVisible(), false);
  // The page came with the CSRF token planted in its head.
  const planted = await page.locator('meta[name=csrf-token]').getAttribute('content');
  assert.match(planted, /^[A-Za-z0-9_-]{20,}$/);

  await signIn(page, { username: 'admin', password: env.server.passwords.admin });
  await expectSignedInAs(page, 'admin');
  await page.reload();
  await expectSignedInAs(page, 'admin');

  const whoami = page.waitForResponse((r) => r.url() === `${env.server.appOrigin}/api/whoami`);
  await page.click('[data-test=your-api]');
  assert.equal((await whoami).status(), 200);
  await page.locator('[data-test=upstream-user]').filter({ hasText: /^admin$/ }).waitFor();
  assert.equal(await page.textContent('[data-test=upstream-role]'), 'admin');
  assert.equal(await page.textContent('[data-test=upstream-assertion]'), 'a signed assertion');

  // The directory (Gatehouse's own resource) works on the same origin too.
  await page.click('a[href="#employees"]');
  await page.locator('#employee-list li').first().waitFor();

  // A second protected read through the gateway, after a reload.
  await page.goto(`${env.server.appOrigin}/#your-api`);
  await page.locator('[data-test=upstream-user]').filter({ hasText: /^admin$/ }).waitFor();

  await page.click('#signout');
  await expectAnonymous(page);
  const cookies = await context.cookies(env.server.appOrigin);
  assert.ok(cookies.every((c) => c.sameSite === 'Lax'), JSON.stringify(cookies));

  // Signed out, the API behind the gateway is refused before it is reached.
  const before = env.server.upstreamLines().length;
  const refused = await page.evaluate(async () => (await fetch('/api/whoami')).status);
  assert.equal(refused, 401);
  assert.equal(env.server.upstreamLines().length, before);

  const seen = env.server.upstreamLines();
  assert.ok(seen.length >= 2, seen.join('\n'));
  for (const line of seen) {
    assert.match(line, /^upstream saw: GET \/api\/whoami user=admin role=admin assertion=true cookies=\[/, line);
    assert.doesNotMatch(line, /gatehouse_/, `the session cookie never reaches the upstream: ${line}`);
  }
});
