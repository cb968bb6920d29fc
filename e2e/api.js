// A small API client for the tests' own side-channel (seeding accounts, an administrator
// revoking a session, checking what the server holds). It keeps cookies and the CSRF token
// like a browser tab would, but runs in Node, outside any page.
export class ApiClient {
  constructor(origin) {
    this.origin = origin;
    this.cookies = new Map();
    this.token = null;
  }

  /** Resolves with `{status, body}`; never throws on an HTTP error status. */
  async request(method, path, body) {
    if (method !== 'GET' && this.token === null) await this.request('GET', '/session');
    const headers = { Accept: 'application/json' };
    if (this.cookies.size) headers.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (method !== 'GET') headers['X-CSRF-Token'] = this.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(this.origin + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const [name, value] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) this.cookies.delete(name.trim());
      else this.cookies.set(name.trim(), value);
    }
    const text = await response.text();
    const reply = text ? JSON.parse(text) : null;
    if (reply && typeof reply._csrf === 'string') this.token = reply._csrf;
    return { status: response.status, body: reply };
  }

  async login(username, password) {
    const reply = await this.request('POST', '/session', { username, password });
    if (reply.status !== 200) throw new Error(`login as ${username}: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body;
  }

  async signup(account) {
    const reply = await this.request('POST', '/users', account);
    if (reply.status !== 201) throw new Error(`sign-up of ${account.username}: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body;
  }

  /** GET that must succeed; resolves with the body. */
  async get(path) {
    const reply = await this.request('GET', path);
    if (reply.status !== 200) throw new Error(`GET ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body;
  }
}

/** A signed-in administrator. */
export async function adminClient(server) {
  const admin = new ApiClient(server.apiOrigin);
  await admin.login('admin', server.passwords.admin);
  return admin;
}

/** A fresh account name and a password no list of common passwords holds. */
export function newAccount(prefix = 'e2e') {
  const suffix = Math.random().toString(36).slice(2, 10);
  return { username: `${prefix}-${suffix}`, password: `Correct-horse-${suffix}-battery` };
}
