// The signed-in user's second factors: set up TOTP (password, then a QR code and a first code),
// see the recovery codes once, turn it off with a current code; add and remove passkeys.
define(['backbone', 'backbone-gatehouse', 'dom'], function (Backbone, Gatehouse, dom) {
  'use strict';

  return Backbone.View.extend({
    private: true,

    events: {
      'submit #totp-begin-form': 'begin',
      'submit #totp-confirm-form': 'confirm',
      'submit #totp-disable-form': 'disable',
      'submit #passkey-add-form': 'addPasskey',
      'click [data-remove-passkey]': 'removePasskey'
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
        var factors = (state.totp ? ['a code from your app'] : [])
          .concat(state.passkeys ? ['a passkey'] : []);
        view.$('#security-status').text(factors.length
          ? 'On: after your password, signing in asks for ' + factors.join(' or ') + ' (' + state.recovery_codes_left + ' recovery codes left).'
          : 'Off: signing in needs your password only.');
        view.$('#totp-begin-form').prop('hidden', state.totp);
        view.$('#totp-disable-form').prop('hidden', !state.totp);
      }).fail(this.failed.bind(this));
      if (!this.session.features.passkeys) return;
      this.$('#passkeys-section').prop('hidden', false);
      this.session.listPasskeys().done(function (reply) {
        var list = view.$('#passkey-list').empty();
        reply.items.forEach(function (passkey) {
          var used = passkey.last_used_at ? 'last used ' + passkey.last_used_at.slice(0, 10) : 'not used yet';
          list.append(Backbone.$('<li>').append(
            Backbone.$('<span>').text(passkey.name + ' (' + used + ') '),
            Backbone.$('<button type="button" class="secondary">').text('Remove')
              .attr('data-remove-passkey', passkey.id)
              .attr('aria-label', 'Remove ' + passkey.name)
          ));
        });
        if (!reply.items.length) list.append(Backbone.$('<li class="muted">').text('None yet.'));
      }).fail(this.failed.bind(this));
    },

    showRecoveryCodes: function (codes) {
      var list = this.$('#recovery-codes').empty();
      codes.forEach(function (code) {
        list.append(Backbone.$('<li>').text(code));
      });
      this.$('#recovery-codes-box').prop('hidden', false);
    },

    addPasskey: function (event) {
      event.preventDefault();
      var view = this;
      this.$('#security-error').prop('hidden', true);
      this.session.registerPasskey({
        name: this.$('#passkey-name').val(),
        password: this.$('#passkey-password').val() || undefined
      }).done(function (reply) {
        view.$('#passkey-name').val('');
        if (reply.recovery_codes) view.showRecoveryCodes(reply.recovery_codes);
        view.refresh();
      }).fail(this.failed.bind(this));
    },

    removePasskey: function (event) {
      var view = this;
      this.$('#security-error').prop('hidden', true);
      var id = Backbone.$(event.currentTarget).attr('data-remove-passkey');
      this.session.removePasskey(id, this.$('#passkey-password').val() || undefined)
        .done(function () {
          view.refresh();
        }).fail(this.failed.bind(this));
    },

    failed: function (xhr) {
      var error = Gatehouse.errorOf(xhr);
      var text = {
        invalid_credentials: 'That is not right.',
        validation_failed: error.fields.password ? 'Enter your password first (you signed in a while ago).' : 'That is not right.',
        passkey_cancelled: 'No passkey was made.',
        passkey_unavailable: 'This browser cannot make a passkey here.',
        passkey_already_registered: 'That passkey is registered already.',
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
        view.showRecoveryCodes(reply.recovery_codes);
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
