// One employee, with a link to their manager and to their direct reports.
define(['backbone', 'dom', 'models/employees', 'views/notice'], function (Backbone, dom, models, NoticeView) {
  'use strict';

  return Backbone.View.extend({
    private: true,

    initialize: function (options) {
      this.employee = new models.Employee({ id: options.employeeId });
    },

    render: function () {
      this.request = this.employee.fetch({
        success: this.renderEmployee.bind(this),
        error: this.renderFailure.bind(this)
      });
      return this;
    },

    renderEmployee: function (employee) {
      var values = Object.assign({}, employee.attributes, { name: employee.fullName() });
      var managerId = employee.get('managerId');
      var reports = employee.get('reportCount');
      values.manager = managerId === null ? null : employee.get('managerFirstName') + ' ' + employee.get('managerLastName');
      values.reportCount = reports ? reports + (reports === 1 ? ' person' : ' people') : 'none';
      this.$el.empty().append(dom.render('tpl-employee', values));

      if (managerId === null) {
        this.$('#employee-manager').remove();
        this.$('[data-test=no-manager]').prop('hidden', false);
      } else {
        this.$('#employee-manager').attr('href', '#employees/' + encodeURIComponent(managerId));
      }
      if (reports) {
        this.$('#employee-reports-link').attr('href', '#employees/' + encodeURIComponent(employee.id) + '/reports');
      }
    },

    renderFailure: function (employee, xhr) {
      this.$el.empty().append(NoticeView.forFailure(xhr).render().el);
    },

    // Leaving the page cancels a request still in flight.
    remove: function () {
      this.request.abort();
      return Backbone.View.prototype.remove.call(this);
    }
  });
});
