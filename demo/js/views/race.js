// The public race standings (seed 004), refreshed on a button.
define(['backbone', 'backbone-gatehouse', 'dom'], function (Backbone, Gatehouse, dom) {
  'use strict';

  return Backbone.View.extend({
    events: { 'click #race-refresh': 'refresh' },

    initialize: function () {
      this.listenTo(this.model, 'sync', this.renderStandings);
    },

    render: function () {
      this.$el.empty().append(dom.render('tpl-race'));
      return this;
    },

    load: function () {
      this.model.load().fail(this.renderFailure.bind(this));
      return this;
    },

    refresh: function () {
      var button = this.$('#race-refresh').prop('disabled', true);
      this.model.refresh()
        .fail(this.renderFailure.bind(this))
        .always(function () {
          button.prop('disabled', false);
        });
    },

    renderStandings: function () {
      this.$('#race-error').prop('hidden', true);
      this.$('[data-field=lap]').text(this.model.get('lap'));
      this.$('[data-field=updated]').text(new Date().toLocaleTimeString());
      var rows = this.model.get('standings').map(function (standing) {
        var row = document.createElement('tr');
        ['position', 'driver', 'team', 'gap'].forEach(function (key) {
          row.appendChild(document.createElement('td')).textContent = standing[key];
        });
        return row;
      });
      this.$('#race-standings').empty().append(rows);
    },

    renderFailure: function (xhr) {
      this.$('#race-error').text('Standings unavailable (' + Gatehouse.errorOf(xhr).code + ').').prop('hidden', false);
    }
  });
});
