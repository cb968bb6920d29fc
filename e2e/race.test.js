// The public race standings: read cross-origin with no cookies, even while signed in.
import assert from 'node:assert/strict';
import { expectSignedInAs, openApp, signIn } from './app.js';
import { scenario, useGatehouse } from './harness.js';

const env = useGatehouse();

/** The request must carry neither cookies nor token, and the answer must grant no credentials. */
async function expectPublic(response) {
  const sent = await response.request().allHeaders();
  assert.equal(sent.cookie, undefined, 'no cookie may go with a public request');
  assert.equal(sent['x-csrf-token'], undefined, 'no CSRF token may go with a public request');
  const headers = await response.allHeaders();
  assert.equal(headers['access-control-allow-credentials'], undefined);
  assert.equal(response.status(), 200);
  return response.json();
}

/** What the widget shows: the lap and one "position driver team gap" line per car. */
async function shown(page) {
  return {
    lap: Number(await page.textContent('[data-test=race-lap]')),
    standings: await page.locator('#race-standings tr').evaluateAll((rows) => rows.map((row) => row.innerText.split('\t').join(' '))),
  };
}

const expected = (results) => ({
  lap: results.lap,
  standings: results.standings.map((s) => `${s.position} ${s.driver} ${s.team} ${s.gap}`),
});

scenario(env, 'the race widget shows the standings and refreshes them without credentials', async (context) => {
  const page = await context.newPage();
  const isRace = (method) => (r) => r.url() === `${env.server.apiOrigin}/race/results` && r.request().method() === method;
  const firstLoad = page.waitForResponse(isRace('GET'));
  await page.goto(env.server.appOrigin);
  const first = await expectPublic(await firstLoad);
  await page.locator('#race-standings tr').first().waitFor();
  assert.deepEqual(await shown(page), expected(first));

  // Signed in, the browser holds session cookies for this host: they must still stay home.
  await signIn(page, { username: 'user', password: env.server.passwords.user });
  await expectSignedInAs(page, 'user');
  assert.ok((await context.cookies(env.server.apiOrigin)).length > 0);

  // Mark the rendered rows, so we can tell the refresh really re-rendered them.
  await page.locator('#race-standings').evaluate((body) => body.querySelectorAll('tr').forEach((row) => row.classList.add('stale')));
  const refreshed = page.waitForResponse(isRace('POST'));
  await page.click('#race-refresh');
  const second = await expectPublic(await refreshed);
  await page.locator('#race-standings tr:not(.stale)').first().waitFor();
  assert.equal(await page.locator('#race-standings tr.stale').count(), 0);
  assert.deepEqual(await shown(page), expected(second));
});
