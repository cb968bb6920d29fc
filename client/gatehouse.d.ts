/** The account behind a signed-in session (`GET /users/me`'s `user`). */
export interface User {
  id: number;
  username: string;
  role: 'user' | 'admin';
  disabled: boolean;
  name: string | null;
  email: string | null;
  /** The holder opened the link mailed to `email`; false again after a change of address. */
  email_verified: boolean;
  created_at: string;
}

/** What the server offers, from `GET /session`. */
export interface Features {
  /** Password reset and e-mail verification (the server has `[mail]`). */
  mail?: boolean;
  /** Passkey registration and login (`[passkeys]` is on for this app's origin). */
  passkeys?: boolean;
}

/** A registered passkey. */
export interface PasskeyInfo {
  id: string;
  name: string;
  created_at: string;
  /** `null` until first used. */
  last_used_at: string | null;
}

/** A failed call: branch on `code`, never on `message`. */
export declare class GatehouseError extends Error {
  readonly name: 'GatehouseError';
  /** HTTP status, or 0 when no response could be read (network failure, CORS refusal). */
  readonly status: number;
  /** The server's stable error code, e.g. `invalid_credentials`, `validation_failed`, `network_error`. */
  readonly code: string;
  /** Field errors of a 422, e.g. `{ password: ['too_short'] }`; empty otherwise. */
  readonly fields: Record<string, string[]>;
  /** Seconds to wait before retrying, from a 429's `Retry-After`. */
  readonly retryAfter?: number;
}

export interface SessionEvents {
  'change:auth': (auth: boolean) => void;
  'change:user': (user: User | null) => void;
  /** The server answered 401: the session is gone (expired, revoked, signed out elsewhere). */
  unauthenticated: (error: GatehouseError) => void;
  /** The server answered 403: signed in but not allowed, or a CSRF/origin refusal (see `code`). */
  forbidden: (error: GatehouseError) => void;
}

export interface GatehouseRequestInit extends Omit<globalThis.RequestInit, 'body' | 'credentials'> {
  /** Any JSON value; it is serialized and sent as `application/json`. */
  body?: unknown;
}

export interface Credentials {
  username: string;
  password: string;
  /** Keep the session across browser restarts (a persistent cookie). */
  remember?: boolean;
}

/** What `login` resolves with: signed in, or (with a second factor) `mfaRequired`. */
export interface LoginReply {
  auth: boolean;
  /** The factors that can complete the login at `completeLogin` (no session yet). */
  mfaRequired?: Array<'totp' | 'webauthn' | 'recovery_code'>;
}

export interface SignUp {
  username: string;
  password: string;
  name?: string;
  email?: string;
}

export interface Session {
  /** Settles after the first `GET /session`; start routing after it. */
  readonly ready: Promise<Session>;
  readonly auth: boolean;
  readonly user: User | null;
  /** The session's absolute expiry (RFC 3339), when signed in. */
  readonly expiresAt: string | null;
  /** What the server offers; `{}` until the first `GET /session` answered. */
  readonly features: Features;
  on<E extends keyof SessionEvents>(event: E, listener: SessionEvents[E]): Session;
  off<E extends keyof SessionEvents>(event: E, listener: SessionEvents[E]): Session;
  /** Asks the server again (`GET /session`). */
  refresh(): Promise<Session>;
  /**
   * Signs in. Rejects with a `GatehouseError` of code `cookie_not_stored` (status 0) when the
   * browser did not keep Gatehouse's cookies: the server accepted the login but the next
   * `GET /session` is anonymous, or the pre-session cookie was dropped so the CSRF token could
   * never fit (third-party cookie blocking, mixed localhost/127.0.0.1; see docs/cookies.md).
   * The session state changes only once the browser has shown that it kept the cookie.
   */
  login(credentials: Credentials): Promise<LoginReply>;
  /**
   * Completes a login whose reply had `mfaRequired`, with a code from the authenticator app, a
   * recovery code, or (`{passkey: true}`) one of the account's passkeys; the same
   * `cookie_not_stored` check as `login`. Rejects with `invalid_credentials` (wrong or reused
   * code, an assertion that does not verify), `mfa_not_pending` (start again), `rate_limited`,
   * `passkey_cancelled` (the dialog was dismissed) or `passkey_unavailable`.
   */
  completeLogin(
    factor: { totp: string } | { recoveryCode: string } | { passkey: true },
  ): Promise<LoginReply>;
  /**
   * Logs in with a passkey alone (no username): the browser offers the passkeys it holds for
   * this site. Rejects like `completeLogin`, and with `passkeys_not_configured`.
   */
  loginWithPasskey(options?: { remember?: boolean }): Promise<LoginReply>;
  /** The signed-in user's passkeys. */
  readonly passkeys: {
    list(): Promise<PasskeyInfo[]>;
    /**
     * Creates a passkey in the browser and registers it; `recovery_codes` (to show once) when
     * the account had none. The password is needed only when the login is older than the
     * server's `session.fresh_auth_secs` (422 `fields.password: required`).
     */
    register(options?: { name?: string; password?: string }): Promise<{
      passkey: PasskeyInfo;
      recovery_codes?: string[];
    }>;
    rename(id: string, name: string): Promise<{ passkey: PasskeyInfo }>;
    remove(id: string, password?: string): Promise<null>;
  };
  /** The signed-in user's TOTP factor. */
  readonly totp: {
    status(): Promise<{ totp: boolean; passkeys: number; recovery_codes_left: number }>;
    /** Starts enrolment (the password again): show `qr_svg` or `secret`, then `confirm`. */
    begin(password: string): Promise<{ secret: string; otpauth_uri: string; qr_svg: string }>;
    /** Turns TOTP on with a first code; the ten recovery codes, to show once. */
    confirm(code: string): Promise<{ recovery_codes: string[] }>;
    disable(factor: { totp: string } | { recoveryCode: string }): Promise<null>;
    regenerateRecoveryCodes(password: string): Promise<{ recovery_codes: string[] }>;
  };
  logout(): Promise<unknown>;
  /** Creates the account and signs it in. */
  signup(account: SignUp): Promise<unknown>;
  /**
   * Asks for a password-reset link by username or e-mail address. Resolves the same way
   * whether or not the account exists (the server answers 202 to every request); rejects with
   * `rate_limited` or `mail_not_configured`.
   */
  requestPasswordReset(who: { username: string } | { email: string }): Promise<unknown>;
  /**
   * Sets a new password with the token of the mailed link (`#reset/TOKEN`): every session of
   * the account ends and this browser is signed in. Rejects with `token_invalid` (used,
   * expired or superseded) or `validation_failed` (`fields.new_password`).
   */
  confirmPasswordReset(reset: { token: string; newPassword: string }): Promise<unknown>;
  /** Verifies the address with the mailed token (`#verify-email/TOKEN`); needs no sign-in. */
  verifyEmail(token: string): Promise<{ user: User }>;
  /** Mails a new verification link to the signed-in user's address. */
  resendVerification(): Promise<unknown>;
  /**
   * Calls the API with cookies, JSON and the CSRF token; resolves with the parsed reply
   * (`null` when empty) and rejects with a `GatehouseError`.
   */
  fetch<T = unknown>(path: string, init?: GatehouseRequestInit): Promise<T>;
  /** Stops listening to other tabs. */
  close(): void;
}

export interface SessionOptions {
  /** The API origin (plus prefix), e.g. `https://api.example.com`. */
  baseUrl: string;
  /** BroadcastChannel name shared by the tabs of one app; defaults to one per `baseUrl`. */
  channelName?: string;
}

export declare function createSession(options: SessionOptions): Session;
