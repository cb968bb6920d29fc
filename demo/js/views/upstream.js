// "Your API": with `gatehouse demo --gateway`, a sample API sits behind Gatehouse at /api/ on
// this same origin. It knows nothing about sessions; it reads who is calling from the
// Gatehouse-* headers the gateway adds, and says what it saw.
define(['jquery', 'backbone', 'backbone-gatehouse', 'dom', 'api', 'views/notice'], function ($, Backbone, Gatehouse, dom, api, NoticeView) {
  'use strict';

  var WhoAmI = Gatehouse.AuthenticatedModel.extend({
    url: function () {
      return api.url(api.upstream + 'whoami');
    }
  });

  return Backbone.View.extend({
    private: true,

    render: function () {
      var view = this;
      new WhoAmI().fetch({
        success: function (model) {
          view.$el.empty().append(dom.render('tpl-upstream', {
            username: model.get('username'),
            role: model.get('role'),
            assertion: model.get('assertion') ? 'a signed assertion' : 'no assertion',
            cookies: (model.get('cookies') || []).join(', ') || 'none'
          }));
        },
        error: function (model, xhr) {
          view.$el.empty().append(NoticeView.forFailure(xhr).render().el);
        }
      });
      return this;
    }
  });
});
