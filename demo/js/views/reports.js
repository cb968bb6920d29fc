// An employee's direct reports. Only administrators may list them: anyone else gets the
// server's 403, shown as a plain "not allowed" page.
define(['jquery', 'backbone', 'dom', 'models/employees', 'views/employee-list', 'views/notice'], function ($, Backbone, dom, models, renderEmployees, NoticeView) {
  'use strict';

  return Backbone.View.extend({
    private: true,

    initialize: function (options) {
      this.employee = new models.Employee({ id: options.employeeId });
      this.reports = new models.Reports([], { employeeId: options.employeeId });
    },

    render: function () {
      var view = this;
      var failed = function (model, xhr) {
        view.renderFailure(xhr);
      };
      this.requests = [this.reports.fetch({ error: failed }), this.employee.fetch({ error: failed })];
      $.when.apply($, this.requests).done(this.renderReports.bind(this));
      return this;
    },

    renderReports: function () {
      this.$el.empty().append(dom.render('tpl-reports', { name: this.employee.fullName() }));
      this.$('[data-field=back]').attr('href', '#employees/' + encodeURIComponent(this.employee.id));
      renderEmployees(this.$('#report-list'), this.reports);
    },

    // Show the first failure only (a 401 never gets here: it goes to the sign-in page).
    renderFailure: function (xhr) {
      if (this.failed) return;
      this.failed = true;
      this.requests.forEach(function (request) {
        request.abort();
      });
      this.$el.empty().append(NoticeView.forFailure(xhr).render().el);
    },

    remove: function () {
      this.requests.forEach(function (request) {
        request.abort();
      });
      return Backbone.View.prototype.remove.call(this);
    }
  });
});
