// The employee directory (seed 002's API). Authenticated*: a 401 sends the user to sign in.
define(['backbone-gatehouse', 'api'], function (Gatehouse, api) {
  'use strict';

  var Employee = Gatehouse.AuthenticatedModel.extend({
    urlRoot: function () {
      return api.url('/employees');
    },
    fullName: function () {
      return this.get('firstName') + ' ' + this.get('lastName');
    }
  });

  // Everyone, or those whose name contains `query`.
  var EmployeeList = Gatehouse.AuthenticatedCollection.extend({
    model: Employee,
    query: '',
    url: function () {
      return this.query
        ? api.url('/employees/search/' + encodeURIComponent(this.query))
        : api.url('/employees');
    }
  });

  // An employee's direct reports: administrators only (a user gets 403).
  var Reports = Gatehouse.AuthenticatedCollection.extend({
    model: Employee,
    initialize: function (models, options) {
      this.employeeId = options.employeeId;
    },
    url: function () {
      return api.url('/employees/' + encodeURIComponent(this.employeeId) + '/reports');
    }
  });

  return { Employee: Employee, EmployeeList: EmployeeList, Reports: Reports };
});
