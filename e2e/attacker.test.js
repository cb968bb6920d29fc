// An attacker's page on a third origin (another localhost port: cross-origin but same-site, so
// SameSite=Lax cookies DO go along) tries to use the victim's session. Every attempt must fail,
// and each test checks the state afterwards, not only the error.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after } from 'node:test';
import { ApiClient, adminClient, newAccount } from './api.js';
import { expectSignedInAs, openApp, signIn } from './app.js';
import { freePorts, scenario, useGatehouse } from './harness.js';

const mallory = newAccount('mallory'); // the attacker's own account, for a login-CSRF attempt
const forgedSignup = newAccount('forged'); // an account the attacker tries to create
let attacker;
let admin;

const env = useGatehouse(async ({ server }) => {
  admin = await adminClient(server);
  await new ApiClient(server.apiOrigin).signup(mallory);
  attacker = await startAttackerSite(server.apiOrigin);
});
after(() => attacker?.close());

// Classic form CSRF with a JSON body: a text/plain form whose single field name holds the JSON
// and whose value closes it, so the body reads {"username":...,"pad":"="}.
function jsonForm(id, action, fields) {
  const json = JSON.stringify({ ...fields, pad: '' }).slice(0, -2);
  const escape = (s) => s.replace(/&/g, '&amp;').replace(/'/g, '&#39;');
  return `<form id="${id}" method="post" enctype="text/plain" action="${action}">
    <input type="hidden" name='${escape(json)}' value='"}'><button>go</button></form>`;
}

async function startAttackerSite(apiOrigin) {
  const page = `<!doctype html><title>Totally harmless</title>
    ${jsonForm('forge-signup', `${apiOrigin}/users`, forgedSignup)}
    ${jsonForm('forge-login', `${apiOrigin}/session`, { username: mallory.username, password: mallory.password })}`;
  const [port] = await freePorts(1);
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { origin: `http://localhost:${port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** The victim signs in to the demo app, then opens the attacker's page in another tab. */
async function victimVisitsAttacker(context) {
  const victim = await openApp(context, env.server);
  await signIn(victim, { username: 'user', password: env.server.passwords.user });
  await expectSignedInAs(victim, 'user');
  const evil = await context.newPage();
  await evil.goto(attacker.origin);
  return { victim, evil };
}

async function accountExists(username) {
  const { items } = await admin.get('/users');
  return items.some((user) => user.username === username);
}

/** Submits one of the attacker's forms; resolves with the API's answer to it. */
async function submit(evil, formId) {
  const answered = evil.waitForResponse((r) => r.url().startsWith(env.server.apiOrigin));
  await evil.click(`#${formId} button`);
  const response = await answered;
  return { status: response.status(), code: (await response.json()).error?.code };
}

scenario(env, 'a cross-site form with a text/plain JSON body can neither sign up nor sign in', async (context) => {
  const { victim, evil } = await victimVisitsAttacker(context);

  const signup = await submit(evil, 'forge-signup');
  assert.ok(signup.status >= 400, `forged sign-up answered ${signup.status}`);
  assert.equal(await accountExists(forgedSignup.username), false);

  await evil.goBack();
  const login = await submit(evil, 'forge-login');
  assert.ok(login.status >= 400, `forged sign-in answered ${login.status}`);

  // Not logged out, and not logged in as the attacker (login CSRF).
  await victim.reload();
  await expectSignedInAs(victim, 'user');
});

scenario(env, 'an attacker page cannot read the session or its CSRF token with a credentialed fetch', async (context) => {
  const { victim, evil } = await victimVisitsAttacker(context);
  const outcome = await evil.evaluate(async (api) => {
    const attempt = async (init) => {
      try {
        const response = await fetch(`${api}/session`, { credentials: 'include', ...init });
        return { type: response.type, body: await response.text() };
      } catch (error) {
        return { refused: error.name };
      }
    };
    // The control: the same page can read the public race results, so the API is reachable.
    const race = await fetch(`${api}/race/results`).then((r) => r.ok, () => false);
    return { race, cors: await attempt({}), noCors: await attempt({ mode: 'no-cors' }) };
  }, env.server.apiOrigin);

  assert.equal(outcome.race, true, 'the attacker page can reach the API');
  assert.deepEqual(outcome.cors, { refused: 'TypeError' }, 'CORS must refuse the read');
  // no-cors: Cross-Origin-Resource-Policy blocks the answer; at most it could be opaque.
  assert.equal(outcome.noCors.body ?? '', '', 'a no-cors answer must be unreadable');
  await victim.reload();
  await expectSignedInAs(victim, 'user');
});

scenario(env, 'an attacker page cannot write with a credentialed fetch', async (context) => {
  const { victim, evil } = await victimVisitsAttacker(context);
  const body = JSON.stringify(forgedSignup);
  // Chromium reports a request whose answer it withheld (Cross-Origin-Resource-Policy) as
  // BLOCKED_BY_RESPONSE: proof that the request did reach the server.
  const answeredButWithheld = [];
  evil.on('requestfailed', (request) => {
    if (/BLOCKED_BY_RESPONSE/.test(request.failure().errorText)) answeredButWithheld.push(request.url());
  });
  const outcome = await evil.evaluate(async ([api, json]) => {
    const attempt = (path, init) => fetch(api + path, { credentials: 'include', ...init })
      .then((response) => response.type, (error) => error.name);
    return {
      // Non-simple requests: the preflight is refused, so they are never sent.
      logout: await attempt('/session', { method: 'DELETE' }),
      jsonSignup: await attempt('/users', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: json }),
      // A "simple" request is sent without asking; the server must refuse it on arrival.
      plainSignup: await attempt('/users', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: json }),
      beacon: navigator.sendBeacon(`${api}/users`, new Blob([json], { type: 'text/plain' })),
    };
  }, [env.server.apiOrigin, body]);

  assert.equal(outcome.logout, 'TypeError');
  assert.equal(outcome.jsonSignup, 'TypeError');
  assert.notEqual(outcome.plainSignup, 'cors', 'the answer to a simple request must stay unreadable');
  assert.ok(answeredButWithheld.length >= 1, 'the simple requests should have reached the API');
  assert.equal(await accountExists(forgedSignup.username), false);
  await victim.reload();
  await expectSignedInAs(victim, 'user');
});
