// Fills a <ul> with links to employees; shared by the directory and the reports pages.
define(['dom'], function (dom) {
  'use strict';

  return function renderEmployees(list, employees) {
    list.empty();
    employees.each(function (employee) {
      var item = dom.render('tpl-employee-item', { name: employee.fullName(), title: employee.get('title') });
      item.querySelector('a').href = '#employees/' + encodeURIComponent(employee.id);
      list.append(item);
    });
  };
});
