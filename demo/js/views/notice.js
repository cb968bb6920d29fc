// A full-page message: not allowed (403), not found (404), or something went wrong.
define(['backbone', 'backbone-gatehouse', 'dom'], function (Backbone, Gatehouse, dom) {
  'use strict';

  var NoticeView = Backbone.View.extend({
    initialize: function (options) {
      this.options = options;
    },

    render: function () {
      this.$el.empty().append(dom.render('tpl-notice', this.options));
      this.$('[data-test=notice]').attr('data-kind', this.options.kind);
      return this;
    }
  }, {
    // The notice for a failed request (401s never get here: they go to the sign-in page).
    forFailure: function (xhr) {
      var error = Gatehouse.errorOf(xhr);
      if (error.status === 403) {
        return new NoticeView({
          kind: 'forbidden',
          title: 'Not allowed',
          message: 'You are signed in, but your account may not see this. Ask an administrator.'
        });
      }
      if (error.status === 404) {
        return new NoticeView({ kind: 'not-found', title: 'Not found', message: 'There is no such employee.' });
      }
      return new NoticeView({
        kind: 'error',
        title: 'Something went wrong',
        message: 'The request failed (' + error.code + '). Try again in a moment.'
      });
    }
  });

  return NoticeView;
});
