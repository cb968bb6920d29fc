// Where the API lives: set once at boot from /demo-config.json, read by the models.
define(function () {
  'use strict';

  var api = {
    baseUrl: null,
    // With `gatehouse demo --gateway`: the path of the sample API behind the gateway.
    upstream: null,
    url: function (path) {
      return api.baseUrl + path;
    }
  };
  return api;
});
