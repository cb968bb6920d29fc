// Sign-up with Parsley.js: the form's data-parsley-* rules mirror the server's, so most mistakes
// never leave the page; whatever the server still refuses (a common password, a taken name)
// comes back as field errors and is shown under the field it concerns.
define(['jquery', 'backbone', 'backbone-gatehouse', 'dom', 'parsley'], function ($, Backbone, Gatehouse, dom, Parsley) {
  'use strict';

  Parsley.addValidator('differsFrom', {
    requirementType: 'string',
    validateString: function (value, otherField) {
      return value !== $(otherField).val();
    },
    messages: { en: 'The password must differ from the username.' }
  });

  // The server's field error codes (docs/api.md), in words. Parsley inserts these as HTML, so
  // only these fixed strings are ever shown, never text from the reply.
  var MESSAGES = {
    username: {
      too_short: 'Use at least 3 characters.',
      too_long: 'Use at most 64 characters.',
      invalid_characters: 'Use letters, digits and . _ - @ + only.',
      username_taken: 'This username is taken. Choose another.'
    },
    password: {
      too_short: 'Use at least 8 characters.',
      too_long: 'Use at most 1024 characters.',
      too_common: 'This password is too common. Choose another.',
      same_as_username: 'The password must differ from the username.'
    },
    name: { too_long: 'Use at most 100 characters.', invalid_characters: 'Remove control characters.' },
    email: { too_long: 'Use at most 254 characters.', invalid_email: 'Use the form name@example.com.' }
  };

  function message(field, code) {
    if (code === 'required') return 'This value is required.';
    return (MESSAGES[field] && MESSAGES[field][code]) || 'The server did not accept this value.';
  }

  return Backbone.View.extend({
    initialize: function (options) {
      this.session = options.session;
      this.serverErrors = [];
    },

    render: function () {
      this.$el.empty().append(dom.render('tpl-signup'));
      this.form = this.$('#signup-form').parsley();
      this.form.on('form:validate', this.clearServerErrors.bind(this));
      // Parsley validated the form: send it ourselves instead of letting the browser post it.
      this.form.on('form:submit', function () {
        this.submit();
        return false;
      }.bind(this));
      return this;
    },

    remove: function () {
      this.form.destroy();
      return Backbone.View.prototype.remove.call(this);
    },

    value: function (field) {
      return this.$('#signup-' + field).val().trim() || undefined;
    },

    submit: function () {
      var view = this;
      var button = this.$('#signup-submit').prop('disabled', true);
      this.$('#signup-error').prop('hidden', true);
      this.session.signup({
        username: this.value('username'),
        // Passwords are taken as typed: spaces are allowed and meaningful.
        password: this.$('#signup-password').val(),
        name: this.value('name'),
        email: this.value('email')
      }).done(function () {
        Backbone.history.navigate('employees', { trigger: true });
      }).fail(function (xhr) {
        button.prop('disabled', false);
        view.showServerErrors(Gatehouse.errorOf(xhr));
      });
    },

    showServerErrors: function (error) {
      var fields = error.code === 'username_taken' ? { username: ['username_taken'] } : error.fields;
      var shown = 0;
      Object.keys(fields).forEach(function (field) {
        var input = this.$('#signup-' + field);
        if (!input.length) return;
        fields[field].forEach(function (code) {
          var name = 'server-' + code.replace(/[^a-z_]/g, '');
          input.parsley().addError(name, { message: message(field, code) });
          this.serverErrors.push({ input: input, name: name });
          shown += 1;
        }, this);
      }, this);
      if (!shown) {
        var text = error.code === 'network_error' ? 'The API cannot be reached.' : 'Sign-up failed (' + error.code + ').';
        this.$('#signup-error').text(text).prop('hidden', false);
      }
    },

    clearServerErrors: function () {
      this.serverErrors.forEach(function (added) {
        added.input.parsley().removeError(added.name);
      });
      this.serverErrors = [];
    }
  });
});
