// The employee directory: reading it, 403 for what a role may not see, 401 when the session
// goes away mid-use.
import assert from 'node:assert/strict';
import { ApiClient, adminClient, newAccount } from './api.js';
import { expectAnonymous, expectSignedInAs, fragment, openApp, signIn } from './app.js';
import { scenario, useGatehouse } from './harness.js';

let admin;
let middle; // an employee with both a manager and direct reports, as the API describes them

const env = useGatehouse(async ({ server }) => {
  admin = await adminClient(server);
  for (const summary of await admin.get('/employees')) {
    if (summary.reportCount === 0) continue;
    const employee = await admin.get(`/employees/${summary.id}`);
    if (employee.managerId !== null) {
      middle = employee;
      break;
    }
  }
  assert.ok(middle, 'the demo directory should have someone with both a manager and reports');
});

const fullName = (e) => `${e.firstName} ${e.lastName}`;
const listedNames = (page, list) => page.locator(`${list} [data-test=employee-item] a`).allTextContents();

/** Waits until the list shows exactly these names, in this order. */
async function expectListed(page, list, names) {
  await page.waitForFunction(
    ([selector, expected]) => JSON.stringify([...document.querySelectorAll(selector)].map((a) => a.textContent)) === expected,
    [`${list} [data-test=employee-item] a`, JSON.stringify(names)],
  );
}

scenario(env, 'the directory lists, searches and shows an employee with manager and reports', async (context) => {
  const page = await openApp(context, env.server);
  await signIn(page, { username: 'admin', password: env.server.passwords.admin });
  await expectListed(page, '#employee-list', (await admin.get('/employees')).map(fullName));

  const query = middle.lastName.slice(0, 4).toLowerCase();
  const matches = await admin.get(`/employees/search/${encodeURIComponent(query)}`);
  assert.ok(matches.length > 0);
  await page.fill('#directory-search', query);
  await expectListed(page, '#employee-list', matches.map(fullName));

  await page.click(`#employee-list a[href="#employees/${middle.id}"]`);
  await page.locator('[data-test=employee-name]').filter({ hasText: fullName(middle) }).waitFor();
  assert.equal(await page.textContent('#employee-manager'), `${middle.managerFirstName} ${middle.managerLastName}`);

  await page.click('#employee-reports-link');
  await page.locator('[data-test=reports-of]').filter({ hasText: fullName(middle) }).waitFor();
  const reports = await admin.get(`/employees/${middle.id}/reports`);
  assert.equal(reports.length, middle.reportCount);
  assert.deepEqual(await listedNames(page, '#report-list'), reports.map(fullName));

  await page.goBack();
  await page.click('#employee-manager');
  await page.locator('[data-test=employee-name]')
    .filter({ hasText: `${middle.managerFirstName} ${middle.managerLastName}` }).waitFor();
  assert.equal(fragment(page), `employees/${middle.managerId}`);
});

scenario(env, 'a user who opens an employee\'s reports is told it is not allowed', async (context) => {
  const page = await openApp(context, env.server, `employees/${middle.id}`);
  // The app sends an anonymous visitor to sign in, remembering the page; waiting for that
  // keeps `signIn` from opening the form itself first (and losing `next`) on a slow machine.
  await page.locator('#signin-form').waitFor();
  assert.equal(fragment(page), `login?next=employees/${middle.id}`);
  await signIn(page, { username: 'user', password: env.server.passwords.user });
  await page.locator('[data-test=employee-name]').filter({ hasText: fullName(middle) }).waitFor();

  const refused = page.waitForResponse((r) => r.url() === `${env.server.apiOrigin}/employees/${middle.id}/reports`);
  await page.click('#employee-reports-link');
  const reply = await refused;
  assert.equal(reply.status(), 403);
  assert.equal((await reply.json()).error.code, 'forbidden');
  await page.locator('[data-test=notice][data-kind=forbidden]').filter({ hasText: 'Not allowed' }).waitFor();
  assert.equal(await page.locator('#report-list').count(), 0);
  await expectSignedInAs(page, 'user');
});

scenario(env, 'a session revoked mid-use leads to sign-in and back to where the user was', async (context) => {
  const account = newAccount('revoked');
  const { user } = await new ApiClient(env.server.apiOrigin).signup(account);
  const page = await openApp(context, env.server, `employees/${middle.id}`);
  // The app sends an anonymous visitor to sign in, remembering the page; waiting for that
  // keeps `signIn` from opening the form itself first (and losing `next`) on a slow machine.
  await page.locator('#signin-form').waitFor();
  assert.equal(fragment(page), `login?next=employees/${middle.id}`);
  await signIn(page, account);
  await page.locator('[data-test=employee-name]').filter({ hasText: fullName(middle) }).waitFor();

  // An administrator disables the account (which ends its sessions), then lets it back in.
  for (const disabled of [true, false]) {
    const reply = await admin.request('PATCH', `/users/${user.id}`, { disabled });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
  }

  const rejected = page.waitForResponse((r) => r.url() === `${env.server.apiOrigin}/employees/${middle.managerId}`);
  await page.click('#employee-manager');
  assert.equal((await rejected).status(), 401);
  await page.locator('#signin-form').waitFor();
  await expectAnonymous(page);
  assert.equal(fragment(page), `login?next=employees/${middle.managerId}`);

  await signIn(page, account);
  await expectSignedInAs(page, account.username);
  await page.locator('[data-test=employee-name]')
    .filter({ hasText: `${middle.managerFirstName} ${middle.managerLastName}` }).waitFor();
  assert.equal(fragment(page), `employees/${middle.managerId}`);
});
