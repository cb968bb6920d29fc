// Seed 004's public race standings. Anyone may read them from any origin, so they are fetched
// without cookies or a CSRF token: the explicit `withCredentials: false` tells the session's
// prefilter to leave these requests alone.
define(['backbone', 'api'], function (Backbone, api) {
  'use strict';

  var PUBLIC = { xhrFields: { withCredentials: false } };

  return Backbone.Model.extend({
    url: function () {
      return api.url('/race/results');
    },
    load: function () {
      return this.fetch(Object.assign({}, PUBLIC));
    },
    // The tutorial's refresh button is a POST; with no body and no custom header it stays a
    // CORS "simple" request, so no preflight either.
    refresh: function () {
      return this.fetch(Object.assign({ type: 'POST' }, PUBLIC));
    }
  });
});
