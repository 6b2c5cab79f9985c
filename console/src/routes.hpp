#pragma once
// The console's routes, registered by area, each from its own file:
//   system  (routes_system.cpp):  dashboard and settings pages, health, dashboard, errors,
//                                 throughput, settings, /metrics
//   studies (routes_studies.cpp): study and series pages and reads, on-demand renders
//   jobs    (routes_jobs.cpp):    the queue, one job, retry and cancel
//   viewer  (routes_viewer.cpp):  the viewer page, render results and result files
//   launch  (routes_launch.cpp):  signed launch links, their tokens and sessions
//   dicomweb (routes_dicomweb.cpp): read-only QIDO-RS / WADO-RS under /dicom-web
// Every handler answers errors with answerError (http_answers.hpp); the server's
// exception handler answers what they throw the same way.
#include <httplib.h>

#include "access_gate.hpp"
#include "study_views.hpp"
#include "volnode/console/console_server.hpp"
#include "volnode/storage/activity_queries.hpp"
#include "web_pages.hpp"

namespace volnode::console {

// What the routes share; owned by the server, which outlives every request.
struct RouteContext {
  const ConsoleContext& node;
  ActivityQueries& activity;
  AccessGate& access;
  const WebPages& pages;
  StudyViews& views;
  bool tls = false;
  int bound_port = 0;  // set when the server has bound
};

void addSystemRoutes(httplib::Server& server, RouteContext& routes);
void addStudyRoutes(httplib::Server& server, RouteContext& routes);
void addJobRoutes(httplib::Server& server, RouteContext& routes);
void addViewerRoutes(httplib::Server& server, RouteContext& routes);
void addLaunchRoutes(httplib::Server& server, RouteContext& routes);
void addDicomWebRoutes(httplib::Server& server, RouteContext& routes);

}  // namespace volnode::console
