// Gatehouse's Backbone.js adapter: the session model of the classic tutorials, done right.
//
//   SessionModel              one per page: getAuth / login / logout / signup, password reset
//                             and e-mail verification (`features.mail`), `change:auth`,
//                             and a jQuery prefilter that sends cookies and the CSRF token to
//                             the API origin (and nowhere else).
//   AuthenticatedModel        Backbone.Model / Collection whose sync sends the user to the login
//   AuthenticatedCollection   route on 401 (keeping where they were in `?next=`), passes other
//                             errors to the caller's handler, and returns the request.
//   errorOf(xhr)              the server's error: {status, code, message, fields, retryAfter}.
//   goToLogin(route)          what a 401 does, for apps that learn of it another way.
//
// Loads as an AMD module (RequireJS: depends on 'backbone') or from a plain <script> after
// Backbone, as `window.BackboneGatehouse`.
(function (root, factory) {
  if (typeof define === 'function' && define.amd) {
    define(['backbone'], factory);
  } else {
    root.BackboneGatehouse = factory(root.Backbone);
  }
})(typeof self !== 'undefined' ? self : this, function (Backbone) {
  'use strict';

  var $ = Backbone.$;
  var UNSAFE_METHOD = /^(POST|PUT|PATCH|DELETE)$/i;

  /** The server's error of a failed jQuery request: `{status, code, message, fields, retryAfter}`. */
  function errorOf(xhr) {
    var body = (xhr.responseJSON && xhr.responseJSON.error) || {};
    var retryAfter = xhr.getResponseHeader && xhr.getResponseHeader('Retry-After');
    return {
      status: xhr.status,
      // status 0: no readable response (network failure or a CORS refusal).
      code: body.code || (xhr.status ? 'unexpected_response' : 'network_error'),
      message: body.message || xhr.statusText,
      fields: body.fields || {},
      retryAfter: retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined
    };
  }

  // A failure that did not come from the server, in a failed request's shape, so `errorOf`
  // reads it like any other error.
  function failure(code, message) {
    return { status: 0, statusText: code, responseJSON: { error: { code: code, message: message } } };
  }

  function cookieNotStored(api) {
    var here = location.origin;
    return failure('cookie_not_stored',
      'The browser did not keep the session cookie from ' + api + '. Most likely ' + here +
      ' is on another site than the API and the browser blocks third-party cookies (set ' +
      'cookies.partitioned = true, or serve the app through the Gatehouse gateway), or ' +
      'localhost and 127.0.0.1 are mixed. Run `gatehouse doctor --app-origin ' + here +
      '` on the server; see docs/cookies.md, "Why is my cookie not sent?".');
  }

  // A WebAuthn ceremony with the browser's JSON forms of the options and the credential
  // (PublicKeyCredential.parse*FromJSON and toJSON, WebAuthn L3; gatehouse.js also converts by
  // hand for older browsers). A dismissed dialog fails with `passkey_cancelled`.
  function ceremony(verb, publicKey) {
    var Credential = window.PublicKeyCredential;
    var parse = Credential && (verb === 'create'
      ? Credential.parseCreationOptionsFromJSON
      : Credential.parseRequestOptionsFromJSON);
    var outcome = $.Deferred();
    if (!parse || !navigator.credentials) {
      return outcome.reject(failure('passkey_unavailable',
        'This browser cannot use passkeys here (WebAuthn with JSON support, on https or localhost).')).promise();
    }
    navigator.credentials[verb]({ publicKey: parse.call(Credential, publicKey) }).then(function (credential) {
      outcome.resolve(credential.toJSON());
    }, function (cause) {
      var code = cause && cause.name === 'NotAllowedError' ? 'passkey_cancelled' : 'passkey_unavailable';
      outcome.reject(failure(code, cause && cause.message));
    });
    return outcome.promise();
  }

  var SessionModel = Backbone.Model.extend({
    defaults: { auth: false },
    // `{mail: bool, passkeys: bool}` once GET /session has answered.
    features: {},

    // options.baseUrl: the API origin plus any prefix, e.g. 'https://api.example.com'.
    initialize: function (attributes, options) {
      if (!options || !options.baseUrl) throw new TypeError('SessionModel needs options.baseUrl');
      this.baseUrl = options.baseUrl.replace(/\/+$/, '');
      this.apiOrigin = new URL(this.baseUrl, location.href).origin;
      this.urlRoot = this.baseUrl + '/session';
      $.ajaxPrefilter(this.prefilter.bind(this));

      // Tabs share cookies, so a login or logout in one tab changes the session (and rotates the
      // CSRF token) under all the others: they hear it here and ask the server again.
      if (typeof BroadcastChannel === 'function') {
        this.channel = new BroadcastChannel('gatehouse:' + this.baseUrl);
        this.channel.onmessage = this.getAuth.bind(this, null);
      }
    },

    // Credentials and the token go to the API origin only. A request that says
    // `xhrFields: {withCredentials: false}` is a public, credential-less call and is left alone.
    prefilter: function (options, originalOptions, xhr) {
      if (new URL(options.url, location.href).origin !== this.apiOrigin) return;
      if (options.xhrFields && options.xhrFields.withCredentials === false) return;
      options.xhrFields = Object.assign({}, options.xhrFields, { withCredentials: true });
      if (UNSAFE_METHOD.test(options.type) && this.get('_csrf')) {
        xhr.setRequestHeader('X-CSRF-Token', this.get('_csrf'));
      }
      // Registered before the caller's handlers, so they already see the updated session.
      xhr.fail(this.noticeFailure.bind(this, xhr));
    },

    noticeFailure: function (xhr) {
      var error = errorOf(xhr);
      // A wrong password is a 401 too, but it says nothing about the session we hold.
      if (xhr.status === 401 && error.code !== 'invalid_credentials') {
        var wasSignedIn = this.get('auth');
        this.adopt({ auth: false });
        this.trigger('unauthenticated', this, error);
        // The dead session's token is worthless: fetch the token of the new pre-session.
        this.getAuth();
        if (wasSignedIn) this.announce();
      } else if (xhr.status === 403) {
        this.trigger('forbidden', this, error);
      }
    },

    /** Asks the server who is signed in, then calls `callback(session)`; returns the request. */
    getAuth: function (callback) {
      var session = this;
      return this.exchange('GET', this.urlRoot).done(function () {
        if (callback) callback(session);
      });
    },

    /**
     * `{username, password, remember}`; the password is sent, never stored on the model. Fails
     * with code `cookie_not_stored` when the browser did not keep the cookies (third-party cookie
     * blocking, mixed localhost/127.0.0.1: docs/cookies.md). The model changes only once the
     * browser has shown that it kept the session cookie, just before the returned promise
     * resolves, so `change:auth` and the caller's `done` run together.
     */
    login: function (credentials) {
      var body = { username: credentials.username, password: credentials.password, remember: !!credentials.remember };
      return this.signIn(this.urlRoot, body);
    },

    /**
     * The second step after a login that resolved with `mfa_required`: `{totp}`, `{recoveryCode}`
     * or `{passkey: true}` (the browser asks for one of the account's passkeys).
     */
    completeLogin: function (factor) {
      var session = this;
      if (factor.passkey) {
        return this.exchange('POST', this.urlRoot + '/mfa/options', null, true).then(function (reply) {
          return ceremony('get', reply.publicKey);
        }).then(function (credential) {
          return session.signIn(session.urlRoot + '/mfa', { webauthn: credential });
        });
      }
      var body = factor.recoveryCode ? { recovery_code: factor.recoveryCode } : { totp: factor.totp };
      return this.signIn(this.urlRoot + '/mfa', body);
    },

    /** Logs in with a passkey alone, no username (`{remember}`); only where `features.passkeys`. */
    loginWithPasskey: function (options) {
      var session = this;
      return this.exchange('POST', this.urlRoot + '/passkey/options', null, true).then(function (reply) {
        return ceremony('get', reply.publicKey);
      }).then(function (credential) {
        var body = { credential: credential, remember: !!(options && options.remember) };
        return session.signIn(session.urlRoot + '/passkey', body);
      });
    },

    /** Passkeys of the signed-in user: `{items: [{id, name, created_at, last_used_at}]}`. */
    listPasskeys: function () {
      return this.exchange('GET', this.baseUrl + '/users/me/passkeys', null, true);
    },
    /**
     * `{name, password?}`: creates a passkey in the browser and registers it; resolves with
     * `{passkey, recovery_codes?}`. The password is needed once the login is no longer fresh.
     */
    registerPasskey: function (details) {
      var session = this;
      var url = this.baseUrl + '/users/me/passkeys';
      return this.exchange('POST', url + '/options', { password: details.password }, true).then(function (reply) {
        return ceremony('create', reply.publicKey);
      }).then(function (credential) {
        return session.exchange('POST', url, { name: details.name, credential: credential }, true);
      });
    },
    renamePasskey: function (id, name) {
      return this.exchange('PATCH', this.baseUrl + '/users/me/passkeys/' + encodeURIComponent(id), { name: name }, true);
    },
    removePasskey: function (id, password) {
      return this.exchange('DELETE', this.baseUrl + '/users/me/passkeys/' + encodeURIComponent(id), { password: password }, true);
    },

    // A login step: the reply is adopted only once the browser shows it kept the cookie.
    signIn: function (url, body) {
      var session = this;
      var outcome = $.Deferred();
      this.exchange('POST', url, body, true).done(function (reply) {
        session.announce();
        if (!reply || !reply.auth) {
          // `mfa_required`: the password was right and a second factor is owed.
          session.adopt(reply);
          outcome.resolve(reply);
          return;
        }
        session.exchange('GET', session.urlRoot).done(function (check) {
          if (check && check.auth) outcome.resolve(reply);
          else outcome.reject(cookieNotStored(session.baseUrl));
        }).fail(outcome.reject);
      }).fail(function (xhr) {
        // A browser that drops our cookies drops the pre-session too, so the token never fits.
        if (errorOf(xhr).code !== 'csrf_token_invalid') return outcome.reject(xhr);
        session.cookiesKept().always(function (kept) {
          outcome.reject(kept === false ? cookieNotStored(session.baseUrl) : xhr);
        });
      });
      return outcome.promise();
    },

    /** TOTP of the signed-in user: `status`, `begin(password)`, `confirm(code)`, `disable(factor)`. */
    totpStatus: function () {
      return this.exchange('GET', this.baseUrl + '/users/me/totp', null, true);
    },
    beginTotp: function (password) {
      return this.exchange('POST', this.baseUrl + '/users/me/totp', { password: password }, true);
    },
    confirmTotp: function (code) {
      return this.exchange('POST', this.baseUrl + '/users/me/totp/confirm', { code: code }, true);
    },
    disableTotp: function (factor) {
      var body = factor.recoveryCode ? { recovery_code: factor.recoveryCode } : { totp: factor.totp };
      return this.exchange('DELETE', this.baseUrl + '/users/me/totp', body, true);
    },
    regenerateRecoveryCodes: function (password) {
      return this.exchange('POST', this.baseUrl + '/users/me/recovery-codes', { password: password }, true);
    },

    // The anonymous token belongs to the pre-session cookie: two reads that disagree mean the
    // browser did not keep the cookie between them. Resolves with true or false.
    cookiesKept: function () {
      var session = this;
      return this.getAuth().then(function () {
        var first = session.get('_csrf');
        return session.getAuth().then(function () {
          return session.get('_csrf') === first;
        });
      });
    },

    logout: function () {
      return this.exchange('DELETE', this.urlRoot).done(this.announce.bind(this));
    },

    /** `{username, password, name?, email?}`: creates the account and signs it in. */
    signup: function (account) {
      return this.exchange('POST', this.baseUrl + '/users', account).done(this.announce.bind(this));
    },

    /** `{username}` or `{email}`: asks for a reset link (202 whatever the input). */
    requestPasswordReset: function (who) {
      var body = who.email ? { email: who.email } : { username: who.username };
      return this.exchange('POST', this.baseUrl + '/password-reset', body, true);
    },

    /** `{token, newPassword}` from the mailed link: sets the password and signs this browser in. */
    confirmPasswordReset: function (reset) {
      var body = { token: reset.token, new_password: reset.newPassword };
      return this.exchange('POST', this.baseUrl + '/password-reset/confirm', body).done(this.announce.bind(this));
    },

    /** The mailed verification token: marks the address verified; resolves with `{user}`. */
    verifyEmail: function (token) {
      var session = this;
      return this.exchange('POST', this.baseUrl + '/users/me/email/verify', { token: token }, true)
        .then(function (reply) {
          return session.getAuth().then(function () {
            session.announce();
            return reply;
          });
        });
    },

    /** Mails a new verification link to the signed-in user's address. */
    resendVerification: function () {
      return this.exchange('POST', this.baseUrl + '/users/me/email/verification', null, true);
    },

    // `hold`: leave the reply to the caller instead of adopting it.
    exchange: function (type, url, body, hold) {
      var session = this;
      function send() {
        return Backbone.ajax({
          type: type,
          url: url,
          dataType: 'json',
          contentType: body ? 'application/json' : false,
          data: body ? JSON.stringify(body) : undefined
        }).done(function (reply) {
          if (!hold) session.adopt(reply);
        });
      }
      if (type === 'GET') return (this.checking = send());
      // An unsafe call needs the token that a check in flight (first load, other tab) brings.
      return $.when(this.checking).then(send, send);
    },

    // A session reply is the whole truth: keys it lacks (user, id, ...) are cleared, in one
    // `set` so listeners see a single consistent change.
    adopt: function (reply) {
      // What the server offers (`features`, only on GET /session) outlives other replies.
      if (reply && reply.features) this.features = reply.features;
      var next = {};
      Object.keys(this.attributes).forEach(function (key) {
        next[key] = undefined;
      });
      this.set(Object.assign(next, reply));
    },

    announce: function () {
      if (this.channel) this.channel.postMessage('session-changed');
    }
  });

  /** Navigates to `loginRoute?next=<where the user is>`, unless already there. */
  function goToLogin(loginRoute) {
    var here = Backbone.history.getFragment();
    if (here === loginRoute || here.indexOf(loginRoute + '?') === 0) return;
    var next = here ? '?next=' + encodeURIComponent(here) : '';
    Backbone.history.navigate(loginRoute + next, { trigger: true });
  }

  // Seed 003's pattern, for models and collections alike.
  function authenticated(Base) {
    return Base.extend({
      loginRoute: 'login',

      sync: function (method, model, options) {
        var error = options.error;
        var loginRoute = this.loginRoute;
        options.error = function (xhr) {
          if (xhr.status === 401) {
            goToLogin(loginRoute);
          } else if (error) {
            error.apply(this, arguments);
          }
        };
        // Returning the request lets callers abort it or chain on it.
        return Base.prototype.sync.call(this, method, model, options);
      }
    });
  }

  return {
    SessionModel: SessionModel,
    AuthenticatedModel: authenticated(Backbone.Model),
    AuthenticatedCollection: authenticated(Backbone.Collection),
    errorOf: errorOf,
    goToLogin: goToLogin
  };
});
