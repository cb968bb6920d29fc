// What a person does in the demo app, as steps the scenarios share.
/** Opens the app at `#fragment` and waits until it knows who is signed in. */
export async function openApp(context, server, fragment = '') {
  const page = await context.newPage();
  await page.goto(`${server.appOrigin}/#${fragment}`);
  await page.locator('[data-test=whoami]').waitFor();
  return page;
}

/** The header's "who is signed in" line. */
export function whoami(page) {
  return page.locator('[data-test=whoami]');
}

/** Fills and sends the sign-in form (opening it first unless the page is already there). */
export async function signIn(page, { username, password, remember = false }) {
  if (!(await page.locator('#signin-form').isVisible())) await page.click('#nav-signin');
  await page.fill('#signin-username', username);
  await page.fill('#signin-password', password);
  await page.setChecked('#signin-remember', remember);
  await page.click('#signin-submit');
}

/** Waits until the header says who is signed in (or fails with the locator's timeout). */
export async function expectSignedInAs(page, username) {
  const text = new RegExp(`^Signed in as ${username.replace(/[.+]/g, '\\$&')} \\((user|admin)\\)$`);
  await whoami(page).filter({ hasText: text }).waitFor();
}

export async function expectAnonymous(page) {
  await whoami(page).filter({ hasText: /^Not signed in$/ }).waitFor();
}

/** The fragment of the page's URL, without '#'. */
export function fragment(page) {
  return decodeURIComponent(new URL(page.url()).hash.slice(1));
}
