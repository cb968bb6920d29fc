// The employee list with live search: each keystroke (debounced) asks the server, and a
// request still in flight is aborted so an older answer can never overwrite a newer one.
define(['underscore', 'backbone', 'dom', 'models/employees', 'views/employee-list'], function (_, Backbone, dom, models, renderEmployees) {
  'use strict';

  return Backbone.View.extend({
    private: true,
    events: { 'input #directory-search': 'search' },

    initialize: function () {
      this.employees = new models.EmployeeList();
      this.listenTo(this.employees, 'reset', this.renderList);
      this.loadSoon = _.debounce(this.load, 200);
    },

    search: function () {
      this.loadSoon();
    },

    render: function () {
      this.$el.empty().append(dom.render('tpl-directory'));
      this.load();
      return this;
    },

    load: function () {
      if (this.request) this.request.abort();
      this.employees.query = this.$('#directory-search').val().trim();
      this.request = this.employees.fetch({ reset: true });
    },

    renderList: function () {
      var query = this.employees.query;
      var count = this.employees.length;
      renderEmployees(this.$('#employee-list'), this.employees);
      this.$('[data-test=directory-summary]').text(
        count ? count + (count === 1 ? ' employee' : ' employees') + (query ? ' matching “' + query + '”' : '')
          : 'No one matches “' + query + '”.');
    },

    remove: function () {
      this.loadSoon.cancel();
      if (this.request) this.request.abort();
      return Backbone.View.prototype.remove.call(this);
    }
  });
});
