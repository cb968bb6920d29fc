// Boots the demo: one session for the page, the header and race widget that live outside the
// routed content, and the router, started once we know who is signed in (seed 000's pattern).
define([
  'jquery', 'backbone', 'backbone-gatehouse', 'api', 'router',
  'views/header', 'views/race', 'models/race', 'views/recovery'
], function ($, Backbone, Gatehouse, api, Router, HeaderView, RaceView, RaceResults, Recovery) {
  'use strict';

  function start(config) {
    var apiOrigin = config.apiOrigin;
    api.baseUrl = apiOrigin;
    api.upstream = config.upstream || null;
    var session = new Gatehouse.SessionModel(null, { baseUrl: apiOrigin });
    new RaceView({ el: '#race', model: new RaceResults() }).render().load();
    var router = new Router({ session: session });

    session.getAuth(function () {
      new HeaderView({ el: '#header', session: session, router: router }).render();
      new Recovery.VerifyBannerView({ el: '#banner', session: session }).render();
      Backbone.history.start();
    }).fail(function () {
      $('#content').text('The API at ' + apiOrigin + ' does not answer. Is `gatehouse demo` running?');
    });
  }

  return { start: start };
});
