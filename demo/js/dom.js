// Renders the <template> elements of index.html. Values go in as textContent, so nothing the
// API returns is ever parsed as HTML (and the CSP needs no 'unsafe-eval' for a template engine).
define(function () {
  'use strict';

  function render(templateId, values) {
    var fragment = document.getElementById(templateId).content.cloneNode(true);
    fragment.querySelectorAll('[data-field]').forEach(function (element) {
      var value = values && values[element.getAttribute('data-field')];
      if (value !== undefined && value !== null) element.textContent = value;
    });
    return fragment;
  }

  return { render: render };
});
