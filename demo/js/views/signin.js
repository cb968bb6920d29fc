// Sign in, optionally "remember me", then go back to where the user was (`next`).
define(['backbone', 'backbone-gatehouse', 'dom'], function (Backbone, Gatehouse, dom) {
  'use strict';

  function describe(error) {
    switch (error.code) {
      case 'invalid_credentials': return 'Wrong username or password.';
      case 'validation_failed': return 'Enter your username and password.';
      case 'rate_limited':
        return 'Too many attempts. Try again in ' + (error.retryAfter || 'a few') + ' seconds.';
      case 'network_error': return 'The API cannot be reached.';
      case 'cookie_not_stored': return error.message;
      case 'email_unverified': return 'Confirm your e-mail address first: we mailed you a new link.';
      case 'passkey_cancelled': return 'No passkey was used.';
      case 'passkey_unavailable': return 'This browser cannot use a passkey here.';
      default: return 'Signing in failed (' + error.code + ').';
    }
  }

  return Backbone.View.extend({
    events: {
      'submit #signin-form': 'submit',
      'submit #mfa-form': 'submitFactor',
      'click #passkey-signin': 'signInWithPasskey',
      'click #mfa-passkey': 'usePasskey'
    },

    initialize: function (options) {
      this.session = options.session;
      this.next = options.next;
    },

    render: function () {
      this.$el.empty().append(dom.render('tpl-signin'));
      // Offered only where the server can mail a link.
      this.$('#forgot-link').prop('hidden', !this.session.features.mail);
      this.$('#passkey-signin').prop('hidden', !this.session.features.passkeys);
      return this;
    },

    signInWithPasskey: function () {
      var view = this;
      this.$('#signin-error').prop('hidden', true);
      this.session.loginWithPasskey({ remember: this.$('#signin-remember').prop('checked') })
        .done(function () {
          view.done();
        }).fail(function (xhr) {
          var error = Gatehouse.errorOf(xhr);
          var text = error.code === 'invalid_credentials' ? 'That passkey is not registered here.' : describe(error);
          view.$('#signin-error').text(text).prop('hidden', false);
        });
    },

    usePasskey: function () {
      this.finishLogin({ passkey: true });
    },

    submit: function (event) {
      event.preventDefault();
      var form = event.currentTarget;
      var view = this;
      form.elements['signin-submit'].disabled = true;
      this.$('#signin-error').prop('hidden', true);
      this.session.login({
        username: form.elements.username.value,
        password: form.elements.password.value,
        remember: form.elements.remember.checked
      }).done(function (reply) {
        if (reply && reply.mfa_required) {
          // The password was right; the login is complete after the second factor.
          view.$('#signin-form').prop('hidden', true);
          view.$('#mfa-form').prop('hidden', false);
          view.$('#mfa-passkey').prop('hidden', reply.mfa_required.indexOf('webauthn') < 0);
          view.$('#mfa-code').trigger('focus');
          return;
        }
        view.done();
      }).fail(function (xhr) {
        form.elements['signin-submit'].disabled = false;
        view.$('#signin-error').text(describe(Gatehouse.errorOf(xhr))).prop('hidden', false);
      });
    },

    submitFactor: function (event) {
      event.preventDefault();
      var code = this.$('#mfa-code').val().trim();
      this.finishLogin(this.$('#mfa-recovery').prop('checked') ? { recoveryCode: code } : { totp: code });
    },

    finishLogin: function (factor) {
      var view = this;
      var button = this.$('#mfa-submit').prop('disabled', true);
      this.$('#mfa-error').prop('hidden', true);
      this.session.completeLogin(factor).done(function () {
        view.done();
      }).fail(function (xhr) {
        var error = Gatehouse.errorOf(xhr);
        button.prop('disabled', false);
        var text = error.code === 'mfa_not_pending'
          ? 'That took too long. Sign in again.'
          : error.code !== 'invalid_credentials' ? describe(error)
            : factor.passkey ? 'That passkey did not work.' : 'That code is not right (or was used already).';
        view.$('#mfa-error').text(text).prop('hidden', false);
        if (error.code === 'mfa_not_pending') {
          view.$('#mfa-form').prop('hidden', true);
          view.$('#signin-form').prop('hidden', false);
          view.$('#signin-submit').prop('disabled', false);
          view.$('#signin-error').text(text).prop('hidden', false);
        }
      });
    },

    done: function () {
      // `next` is a fragment of this app; navigate() can only move within the page.
      Backbone.history.navigate(this.next || 'employees', { trigger: true });
    }
  });
});
