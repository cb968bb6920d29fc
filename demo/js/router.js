// The app's hash routes. Views marked `private` show data that needs a signed-in user.
define([
  'jquery', 'backbone', 'backbone-gatehouse',
  'views/home', 'views/signin', 'views/signup', 'views/directory', 'views/employee',
  'views/reports', 'views/notice', 'views/upstream', 'views/recovery', 'views/security'
], function ($, Backbone, Gatehouse, HomeView, SignInView, SignUpView, DirectoryView,
             EmployeeView, ReportsView, NoticeView, UpstreamView, Recovery, SecurityView) {
  'use strict';

  return Backbone.Router.extend({
    routes: {
      '': 'home',
      'login': 'signIn',
      'signup': 'signUp',
      'forgot': 'forgot',
      'reset/:token': 'reset',
      'verify-email/:token': 'verifyEmail',
      'employees': 'directory',
      'employees/:id': 'employee',
      'employees/:id/reports': 'reports',
      'your-api': 'upstream',
      'security': 'security',
      '*unknown': 'notFound'
    },

    initialize: function (options) {
      this.session = options.session;
      // Signed out behind our back (another tab, revoked, expired): take private data off the
      // screen and offer to sign in again, coming back here afterwards.
      this.listenTo(this.session, 'change:auth', function (session, auth) {
        if (!auth && this.view && this.view.private) Gatehouse.goToLogin('login');
      });
    },

    show: function (view) {
      if (this.view) this.view.remove();
      this.view = view;
      $('#content').empty().append(view.el);
      view.render();
    },

    home: function () {
      this.show(new HomeView({ session: this.session }));
    },

    // `query` is Backbone's query string: `next=<fragment>` names where to go after signing in.
    signIn: function (query) {
      var next = new URLSearchParams(query || '').get('next');
      this.show(new SignInView({ session: this.session, next: next }));
    },

    signUp: function () {
      this.show(new SignUpView({ session: this.session }));
    },

    forgot: function () {
      this.show(new Recovery.ForgotView({ session: this.session }));
    },

    reset: function (token) {
      this.show(new Recovery.ResetView({ session: this.session, token: token }));
    },

    verifyEmail: function (token) {
      this.show(new Recovery.VerifyEmailView({ session: this.session, token: token }));
    },

    directory: function () {
      this.show(new DirectoryView());
    },

    employee: function (id) {
      this.show(new EmployeeView({ employeeId: id }));
    },

    reports: function (id) {
      this.show(new ReportsView({ employeeId: id }));
    },

    security: function () {
      if (!this.session.get('auth')) return Gatehouse.goToLogin('login');
      this.show(new SecurityView({ session: this.session }));
    },

    upstream: function () {
      this.show(new UpstreamView());
    },

    notFound: function () {
      this.show(new NoticeView({ kind: 'not-found', title: 'Not found', message: 'There is no page at this address.' }));
    }
  });
});
