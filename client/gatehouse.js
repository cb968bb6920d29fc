// Gatehouse browser client: the session resource, CSRF tokens and cross-tab sync in one small,
// dependency-free ES module. See gatehouse.d.ts for the typed surface and README.md for use.

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** An API call that failed: the server's stable `code` and field errors, never just a message. */
export class GatehouseError extends Error {
  constructor(status, { code, message, fields }, retryAfter) {
    super(message || code);
    this.name = 'GatehouseError';
    this.status = status;
    this.code = code;
    this.fields = fields || {};
    this.retryAfter = retryAfter;
  }
}

/** Creates the page's session; `ready` settles after the first `GET /session`. */
export function createSession({ baseUrl, channelName = `gatehouse:${baseUrl}` } = {}) {
  if (!baseUrl) throw new TypeError('createSession needs a baseUrl (the API origin)');
  const api = baseUrl.replace(/\/+$/, '');
  const listeners = new Map();
  let state = { auth: false, user: null, expiresAt: null };
  let features = {};
  let csrfToken = null;
  let refreshing = Promise.resolve();

  // Tabs of the same app share cookies, so a login or logout in one tab changes the session
  // (and rotates the CSRF token) under all the others: tell them to look again.
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(channelName) : null;
  if (channel) channel.onmessage = () => refresh().catch(() => {});

  function emit(event, payload) {
    for (const listener of listeners.get(event) || []) listener(payload);
  }

  // Every session reply carries the current `_csrf`; a reply with `auth` describes the session.
  function absorb(body) {
    if (!body || typeof body !== 'object') return;
    if (typeof body._csrf === 'string') csrfToken = body._csrf;
    if (body.features && typeof body.features === 'object') features = body.features;
    if (typeof body.auth === 'boolean') {
      setState(body.auth ? { auth: true, user: body.user, expiresAt: body.expires_at } : null);
    }
  }

  function setState(next) {
    const previous = state;
    state = next || { auth: false, user: null, expiresAt: null };
    if (previous.auth !== state.auth) emit('change:auth', state.auth);
    if (JSON.stringify(previous.user) !== JSON.stringify(state.user)) emit('change:user', state.user);
  }

  async function request(path, { method = 'GET', body, headers, hold = false, ...rest } = {}) {
    const verb = method.toUpperCase();
    // An unsafe call needs the token that the refresh in flight (first load, other tab) brings.
    if (UNSAFE_METHODS.has(verb)) await refreshing.catch(() => {});
    const sent = new Headers(headers);
    sent.set('Accept', 'application/json');
    if (body !== undefined) sent.set('Content-Type', 'application/json');
    if (UNSAFE_METHODS.has(verb) && csrfToken) sent.set('X-CSRF-Token', csrfToken);

    let response;
    try {
      response = await fetch(api + path, {
        ...rest,
        method: verb,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'include',
      });
    } catch (cause) {
      // CORS refusals and unreachable servers look alike to a page: both are a TypeError.
      throw Object.assign(new GatehouseError(0, { code: 'network_error', message: cause.message }), { cause });
    }
    const reply = await readJson(response);
    if (response.ok) {
      if (!hold) absorb(reply);
      return reply;
    }
    const error = new GatehouseError(
      response.status,
      (reply && reply.error) || { code: 'unexpected_response', message: response.statusText },
      retryAfterSeconds(response.headers.get('Retry-After')),
    );
    // A wrong password is a 401 too, but it says nothing about the session we hold.
    if (response.status === 401 && error.code !== 'invalid_credentials') {
      const wasSignedIn = state.auth;
      setState(null);
      emit('unauthenticated', error);
      // The dead session's token is worthless: fetch the token of the new pre-session.
      refresh().catch(() => {});
      if (wasSignedIn) announce();
    } else if (response.status === 403) {
      emit('forbidden', error);
    }
    throw error;
  }

  function announce() {
    if (channel) channel.postMessage('session-changed');
  }

  function refresh() {
    refreshing = request('/session').then(() => session);
    return refreshing;
  }

  // A login step (password, or second factor): the reply is held back from the session state
  // until the browser shows it kept the cookie (docs/cookies.md).
  async function signIn(path, body) {
    let reply;
    try {
      reply = await request(path, { method: 'POST', body, hold: true });
    } catch (error) {
      // A browser that drops our cookies drops the pre-session too, so the token never fits.
      if (error.code === 'csrf_token_invalid' && !(await cookiesKept())) throw cookieError(api);
      throw error;
    }
    announce();
    if (!reply || !reply.auth) {
      // `mfa_required`: the password was right and a second factor is owed.
      absorb(reply);
      return reply && reply.mfa_required ? { ...reply, mfaRequired: reply.mfa_required } : reply;
    }
    await refresh();
    if (!state.auth) throw cookieError(api);
    return reply;
  }

  // The anonymous token belongs to the pre-session cookie: two reads that disagree mean the
  // browser did not keep the cookie between them.
  async function cookiesKept() {
    await refresh();
    const first = csrfToken;
    await refresh();
    return csrfToken === first;
  }

  async function change(method, path, body) {
    const reply = await request(path, { method, body });
    announce();
    return reply;
  }

  const session = {
    ready: null,
    get auth() {
      return state.auth;
    },
    get user() {
      return state.user;
    },
    get expiresAt() {
      return state.expiresAt;
    },
    get features() {
      return features;
    },
    on(event, listener) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event).add(listener);
      return session;
    },
    off(event, listener) {
      if (listeners.has(event)) listeners.get(event).delete(listener);
      return session;
    },
    refresh,
    async login({ username, password, remember = false }) {
      return signIn('/session', { username, password, remember });
    },
    /**
     * The second step after a login that answered `mfaRequired`: `{totp}`, `{recoveryCode}`, or
     * `{passkey: true}` (the browser asks for one of the account's passkeys).
     */
    async completeLogin({ totp, recoveryCode, passkey = false } = {}) {
      if (passkey) {
        const options = await request('/session/mfa/options', { method: 'POST', hold: true });
        const credential = await webauthn('get', requestOptions(options.publicKey));
        return signIn('/session/mfa', { webauthn: credential });
      }
      return signIn('/session/mfa', recoveryCode ? { recovery_code: recoveryCode } : { totp });
    },
    /** Logs in with a passkey alone: the browser offers the passkeys it holds for this site. */
    async loginWithPasskey({ remember = false } = {}) {
      const options = await request('/session/passkey/options', { method: 'POST', hold: true });
      const credential = await webauthn('get', requestOptions(options.publicKey));
      return signIn('/session/passkey', { credential, remember });
    },
    passkeys: {
      list: () => request('/users/me/passkeys').then((reply) => reply.items),
      /** Makes a passkey (the password only when the login is no longer fresh) and registers it. */
      async register({ name, password } = {}) {
        const options = await request('/users/me/passkeys/options', { method: 'POST', body: { password } });
        const credential = await webauthn('create', creationOptions(options.publicKey));
        return change('POST', '/users/me/passkeys', { name, credential });
      },
      rename: (id, name) => request(`/users/me/passkeys/${encodeURIComponent(id)}`, { method: 'PATCH', body: { name } }),
      remove: (id, password) => request(`/users/me/passkeys/${encodeURIComponent(id)}`, {
        method: 'DELETE',
        body: { password },
      }),
    },
    totp: {
      status: () => request('/users/me/totp'),
      begin: (password) => request('/users/me/totp', { method: 'POST', body: { password } }),
      confirm: (code) => request('/users/me/totp/confirm', { method: 'POST', body: { code } }),
      disable: ({ totp, recoveryCode } = {}) => request('/users/me/totp', {
        method: 'DELETE',
        body: recoveryCode ? { recovery_code: recoveryCode } : { totp },
      }),
      regenerateRecoveryCodes: (password) => request('/users/me/recovery-codes', { method: 'POST', body: { password } }),
    },
    logout() {
      return change('DELETE', '/session');
    },
    signup(account) {
      return change('POST', '/users', account);
    },
    requestPasswordReset({ username, email } = {}) {
      return request('/password-reset', { method: 'POST', body: email ? { email } : { username }, hold: true });
    },
    confirmPasswordReset({ token, newPassword }) {
      return change('POST', '/password-reset/confirm', { token, new_password: newPassword });
    },
    async verifyEmail(token) {
      const reply = await request('/users/me/email/verify', { method: 'POST', body: { token }, hold: true });
      await refresh();
      announce();
      return reply;
    },
    resendVerification() {
      return request('/users/me/email/verification', { method: 'POST', hold: true });
    },
    fetch: request,
    close() {
      if (channel) channel.close();
    },
  };
  session.ready = refresh();
  return session;
}

// WebAuthn options travel as JSON with base64url binary members; the browser's own parsers are
// used where it has them (WebAuthn L3 §5.1.9, parseCreationOptionsFromJSON).
function creationOptions(json) {
  const parse = globalThis.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON;
  if (parse) return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    user: { ...json.user, id: fromBase64url(json.user.id) },
    excludeCredentials: (json.excludeCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
  };
}

function requestOptions(json) {
  const parse = globalThis.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON;
  if (parse) return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    allowCredentials: (json.allowCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
  };
}

// Runs a ceremony and answers the credential as JSON; a dismissed dialog is `passkey_cancelled`.
async function webauthn(verb, publicKey) {
  if (typeof navigator !== 'object' || !navigator.credentials || !globalThis.PublicKeyCredential) {
    throw new GatehouseError(0, { code: 'passkey_unavailable', message: 'this browser has no passkey support (WebAuthn needs https or localhost)' });
  }
  let credential;
  try {
    credential = await navigator.credentials[verb]({ publicKey });
  } catch (cause) {
    const code = cause && cause.name === 'NotAllowedError' ? 'passkey_cancelled' : 'passkey_unavailable';
    throw Object.assign(new GatehouseError(0, { code, message: cause && cause.message }), { cause });
  }
  return credentialJson(credential);
}

function credentialJson(credential) {
  if (typeof credential.toJSON === 'function') return credential.toJSON();
  const r = credential.response;
  const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toBase64url(r.attestationObject);
    if (typeof r.getTransports === 'function') response.transports = r.getTransports();
  } else {
    response.authenticatorData = toBase64url(r.authenticatorData);
    response.signature = toBase64url(r.signature);
    response.userHandle = r.userHandle ? toBase64url(r.userHandle) : null;
  }
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response,
    clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
  };
}

function fromBase64url(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
}

function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function cookieError(api) {
  return new GatehouseError(0, { code: 'cookie_not_stored', message: cookieNotStored(api) });
}

function cookieNotStored(api) {
  const here = typeof location === 'object' ? location.origin : 'this app';
  return `The browser did not keep the session cookie from ${api}. ` +
    `Most likely ${here} is on another site than the API and the browser blocks third-party ` +
    'cookies (set cookies.partitioned = true, or serve the app through the Gatehouse gateway), ' +
    'or localhost and 127.0.0.1 are mixed. Run `gatehouse doctor --app-origin ' + here +
    '` on the server; see docs/cookies.md, "Why is my cookie not sent?".';
}

async function readJson(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3).
function retryAfterSeconds(value) {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}
