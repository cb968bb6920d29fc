// The signed-in user's second factor: set up TOTP (password, then a QR code and a first code),
// see the recovery codes once, turn it off with a current code.
define(['backbone', 'backbone-gatehouse', 'dom'], function (Backbone, Gatehouse, dom) {
  'use strict';

  return Backbone.View.extend({
    private: true,

    events: {
      'submit #totp-begin-form': 'begin',
      'submit #totp-confirm-form': 'confirm',
      'submit #totp-disable-form': 'disable'
    },

    initialize: function (options) {
      this.session = options.session;
    },

    render: function () {
      this.$el.empty().append(dom.render('tpl-security'));
      this.refresh();
      return this;
    },

    refresh: function () {
      var view = this;
      this.session.totpStatus().done(function (state) {
        view.$('#security-status').text(state.totp
          ? 'On: signing in asks for a code from your app (' + state.recovery_codes_left + ' recovery codes left).'
          : 'Off: signing in needs your password only.');
        view.$('#totp-begin-form').prop('hidden', state.totp);
        view.$('#totp-disable-form').prop('hidden', !state.totp);
      }).fail(this.failed.bind(this));
    },

    failed: function (xhr) {
      var error = Gatehouse.errorOf(xhr);
      var text = {
        invalid_credentials: 'That is not right.',
        validation_failed: 'That code is not right.',
        rate_limited: 'Too many attempts. Try again in ' + (error.retryAfter || 'a few') + ' seconds.'
      }[error.code] || 'That did not work (' + error.code + ').';
      this.$('#security-error').text(text).prop('hidden', false);
    },

    begin: function (event) {
      event.preventDefault();
      var view = this;
      this.$('#security-error').prop('hidden', true);
      this.session.beginTotp(this.$('#totp-password').val()).done(function (enrolment) {
        view.$('#totp-begin-form').prop('hidden', true);
        view.$('#totp-secret').text(enrolment.secret);
        // As an image, never as markup: the SVG cannot run anything in the page.
        view.$('#totp-qr').attr('src', 'data:image/svg+xml;base64,' + btoa(enrolment.qr_svg));
        view.$('#totp-confirm-form').prop('hidden', false);
      }).fail(this.failed.bind(this));
    },

    confirm: function (event) {
      event.preventDefault();
      var view = this;
      this.$('#security-error').prop('hidden', true);
      this.session.confirmTotp(this.$('#totp-code').val().trim()).done(function (reply) {
        view.$('#totp-confirm-form').prop('hidden', true);
        var list = view.$('#recovery-codes').empty();
        reply.recovery_codes.forEach(function (code) {
          list.append(Backbone.$('<li>').text(code));
        });
        view.$('#recovery-codes-box').prop('hidden', false);
        view.refresh();
      }).fail(this.failed.bind(this));
    },

    disable: function (event) {
      event.preventDefault();
      var view = this;
      var code = this.$('#totp-disable-code').val().trim();
      this.$('#security-error').prop('hidden', true);
      this.session.disableTotp(/^\d{6}$/.test(code) ? { totp: code } : { recoveryCode: code })
        .done(function () {
          view.$('#recovery-codes-box').prop('hidden', true);
          view.refresh();
        }).fail(this.failed.bind(this));
    }
  });
});
