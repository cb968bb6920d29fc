// Who is signed in, in every open tab: re-renders whenever the session changes, including
// changes another tab made (the session model hears of them over BroadcastChannel).
define(['backbone', 'backbone-gatehouse', 'dom', 'api'], function (Backbone, Gatehouse, dom, api) {
  'use strict';

  return Backbone.View.extend({
    events: { 'click #signout': 'signOut' },

    initialize: function (options) {
      this.session = options.session;
      this.listenTo(this.session, 'change:auth change:user', this.render);
    },

    render: function () {
      var user = this.session.get('user');
      this.$el.empty().append(this.session.get('auth')
        ? dom.render('tpl-header-signed-in', { username: user.username, role: user.role })
        : dom.render('tpl-header-anonymous'));
      // The sample API behind the gateway, when this demo runs with --gateway.
      this.$('[data-test=your-api]').prop('hidden', !api.upstream);
      return this;
    },

    signOut: function (event) {
      event.currentTarget.disabled = true;
      // Leave any private page first, so nothing private stays on screen while we wait.
      Backbone.history.navigate('', { trigger: true });
      this.session.logout().fail(function (xhr) {
        event.currentTarget.disabled = false;
        window.alert('Signing out failed (' + Gatehouse.errorOf(xhr).code + ').');
      });
    }
  });
});
