// Getting back in by mail: "Forgot password?" asks for a link, `#reset/TOKEN` (the mailed
// link) sets a new password and signs in, `#verify-email/TOKEN` confirms an address. The
// token stays in the page: fragments are never sent to a server or in a Referer.
define(['backbone', 'backbone-gatehouse', 'dom'], function (Backbone, Gatehouse, dom) {
  'use strict';

  var PASSWORD_RULES = {
    too_short: 'Use at least 8 characters.',
    too_long: 'Use at most 1024 characters.',
    too_common: 'This password is too common. Choose another.',
    same_as_username: 'The password must differ from the username.',
    required: 'Enter a new password.'
  };

  var ForgotView = Backbone.View.extend({
    events: { 'submit #forgot-form': 'submit' },

    initialize: function (options) {
      this.session = options.session;
    },

    render: function () {
      this.$el.empty().append(dom.render('tpl-forgot'));
      return this;
    },

    submit: function (event) {
      event.preventDefault();
      var view = this;
      var who = this.$('#forgot-who').val().trim();
      if (!who) return;
      var button = this.$('#forgot-submit').prop('disabled', true);
      this.$('#forgot-error').prop('hidden', true);
      this.session.requestPasswordReset(who.indexOf('@') > 0 && who.indexOf('.') > 0 ? { email: who } : { username: who })
        .done(function (reply) {
          view.$('#forgot-done').text(reply.message).prop('hidden', false);
        }).fail(function (xhr) {
          var error = Gatehouse.errorOf(xhr);
          button.prop('disabled', false);
          view.$('#forgot-error').text(error.code === 'rate_limited'
            ? 'Too many requests. Try again in ' + (error.retryAfter || 'a few') + ' seconds.'
            : 'That did not work (' + error.code + ').').prop('hidden', false);
        });
    }
  });

  var ResetView = Backbone.View.extend({
    events: { 'submit #reset-form': 'submit' },

    initialize: function (options) {
      this.session = options.session;
      this.token = options.token;
    },

    render: function () {
      this.$el.empty().append(dom.render('tpl-reset'));
      return this;
    },

    submit: function (event) {
      event.preventDefault();
      var view = this;
      var button = this.$('#reset-submit').prop('disabled', true);
      this.$('#reset-error').prop('hidden', true);
      this.session.confirmPasswordReset({ token: this.token, newPassword: this.$('#reset-password').val() })
        .done(function () {
          Backbone.history.navigate('employees', { trigger: true, replace: true });
        }).fail(function (xhr) {
          var error = Gatehouse.errorOf(xhr);
          button.prop('disabled', false);
          var text;
          if (error.code === 'token_invalid') {
            text = 'This link is no longer valid (used, expired, or a newer one was sent). Ask for a new one under "Forgot password?".';
          } else if (error.code === 'validation_failed') {
            text = PASSWORD_RULES[(error.fields.new_password || [])[0]] || 'The server did not accept this password.';
          } else {
            text = 'Setting the password failed (' + error.code + ').';
          }
          view.$('#reset-error').text(text).prop('hidden', false);
        });
    }
  });

  var VerifyEmailView = Backbone.View.extend({
    initialize: function (options) {
      this.session = options.session;
      this.token = options.token;
    },

    render: function () {
      var view = this;
      this.$el.empty().append(dom.render('tpl-verify-email'));
      this.session.verifyEmail(this.token).done(function (reply) {
        view.$('#verify-status').text('Thank you: ' + reply.user.email + ' is confirmed.');
      }).fail(function (xhr) {
        var error = Gatehouse.errorOf(xhr);
        view.$('#verify-status').text(error.code === 'token_invalid'
          ? 'This link is no longer valid (used, expired, or a newer one was sent).'
          : 'Confirming failed (' + error.code + ').');
      });
      return this;
    }
  });

  // Over the page while the signed-in user's address is not confirmed.
  var VerifyBannerView = Backbone.View.extend({
    events: { 'click #verify-resend': 'resend' },

    initialize: function (options) {
      this.session = options.session;
      this.listenTo(this.session, 'change:auth change:user', this.render);
    },

    render: function () {
      var user = this.session.get('user');
      this.$el.empty();
      if (this.session.features.mail && this.session.get('auth') && user && user.email && !user.email_verified) {
        this.$el.append(dom.render('tpl-verify-banner', { email: user.email }));
      }
      return this;
    },

    resend: function (event) {
      var view = this;
      event.currentTarget.disabled = true;
      this.session.resendVerification().done(function () {
        view.$('#verify-resend-status').text('Sent.');
      }).fail(function (xhr) {
        event.currentTarget.disabled = false;
        view.$('#verify-resend-status').text('Not sent (' + Gatehouse.errorOf(xhr).code + ').');
      });
    }
  });

  return { ForgotView: ForgotView, ResetView: ResetView, VerifyEmailView: VerifyEmailView, VerifyBannerView: VerifyBannerView };
});
