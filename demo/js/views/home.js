define(['backbone', 'dom', 'api'], function (Backbone, dom, api) {
  'use strict';

  return Backbone.View.extend({
    initialize: function (options) {
      this.session = options.session;
      this.listenTo(this.session, 'change:auth', this.render);
    },

    render: function () {
      var user = this.session.get('user');
      this.$el.empty().append(dom.render('tpl-home', { username: user && user.username }));
      this.$('[data-test=home-anonymous]').prop('hidden', !!user);
      this.$('[data-test=home-signed-in]').prop('hidden', !user);
      this.$('[data-test=home-cross-origin]').prop('hidden', !!api.upstream);
      this.$('[data-test=home-gateway]').prop('hidden', !api.upstream);
      return this;
    }
  });
});
