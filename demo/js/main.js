// Entry point (RequireJS data-main): library paths, then boot the app with the API origin that
// the demo server publishes in /demo-config.json.
require.config({
  baseUrl: '/js',
  paths: {
    jquery: '/node_modules/jquery/dist/jquery',
    underscore: '/node_modules/underscore/underscore-umd',
    backbone: '/node_modules/backbone/backbone',
    parsley: '/node_modules/parsleyjs/dist/parsley',
    'backbone-gatehouse': '/client/backbone-gatehouse'
  }
});

require(['jquery', 'app'], function ($, app) {
  $.getJSON('/demo-config.json')
    .done(function (config) {
      app.start(config);
    })
    .fail(function () {
      $('#content').text('Could not load /demo-config.json: is this page served by `gatehouse demo`?');
    });
});
