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
      default: return 'Signing in failed (' + error.code + ').';
    }
  }

  return Backbone.View.extend({
    events: { 'submit #signin-form': 'submit', 'submit #mfa-form': 'submitFactor' },

    initialize: function (options) {
      this.session = options.session;
      this.next = options.next;
    },

    render: function () {
      this.$el.empty().append(dom.render('tpl-signin'));
      // Offered only where the server can mail a link.
      this.$('#forgot-link').prop('hidden', !this.session.features.mail);
      return this;
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
      var view = this;
      var code = this.$('#mfa-code').val().trim();
      var factor = this.$('#mfa-recovery').prop('checked') ? { recoveryCode: code } : { totp: code };
      var button = this.$('#mfa-submit').prop('disabled', true);
      this.$('#mfa-error').prop('hidden', true);
      this.session.completeLogin(factor).done(function () {
        view.done();
      }).fail(function (xhr) {
        var error = Gatehouse.errorOf(xhr);
        button.prop('disabled', false);
        var text = error.code === 'mfa_not_pending'
          ? 'That took too long. Sign in again.'
          : error.code === 'invalid_credentials' ? 'That code is not right (or was used already).' : describe(error);
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
