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
    events: { 'submit #signin-form': 'submit' },

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
      }).done(function () {
        // `next` is a fragment of this app; navigate() can only move within the page.
        Backbone.history.navigate(view.next || 'employees', { trigger: true });
      }).fail(function (xhr) {
        form.elements['signin-submit'].disabled = false;
        view.$('#signin-error').text(describe(Gatehouse.errorOf(xhr))).prop('hidden', false);
      });
    }
  });
});
