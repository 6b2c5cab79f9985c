#include "volnode/console/console_server.hpp"

#include <thread>

#include <httplib.h>

#include "access.hpp"
#include "access_gate.hpp"
#include "http_answers.hpp"
#include "routes.hpp"
#include "study_views.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/storage/activity_queries.hpp"
#include "web_pages.hpp"

#ifndef VOLNODE_CONSOLE_WEB_DIR
#define VOLNODE_CONSOLE_WEB_DIR ""
#endif

namespace volnode {
namespace {

// Shortest console.token / launch secret accepted.
constexpr size_t kMinSecretLength = 16;

std::unique_ptr<httplib::Server> makeServer(const ConsoleContext& context) {
  if (context.tls_cert_file.empty() && context.tls_key_file.empty()) return std::make_unique<httplib::Server>();
  if (context.tls_cert_file.empty() || context.tls_key_file.empty())
    throw Error(Errc::InvalidConfig, "console TLS needs both a certificate and a key file");
  auto ssl = std::make_unique<httplib::SSLServer>(context.tls_cert_file.c_str(), context.tls_key_file.c_str());
  if (!ssl->is_valid())
    throw Error(Errc::InvalidConfig, "console TLS: cannot load certificate " + context.tls_cert_file.string() +
                                         " and key " + context.tls_key_file.string());
  return ssl;
}

}  // namespace

struct ConsoleServer::Impl {
  ConsoleContext context;
  std::unique_ptr<httplib::Server> server;
  ActivityQueries activity;
  console::AccessGate access;
  console::WebPages pages;
  console::StudyViews views;
  console::RouteContext routes;
  std::thread thread;
  std::shared_ptr<spdlog::logger> log = moduleLogger("console");

  explicit Impl(ConsoleContext c)
      : context(std::move(c)),
        server(makeServer(context)),
        activity(context.index.location()),
        access(context),
        pages(context.web_root.empty() ? std::filesystem::path(VOLNODE_CONSOLE_WEB_DIR) : context.web_root),
        views(context, activity),
        routes{context, activity, access, pages, views, !context.tls_cert_file.empty()} {}

  void registerRoutes() {
    auto& s = *server;
    console::addSystemRoutes(s, routes);
    console::addStudyRoutes(s, routes);
    console::addJobRoutes(s, routes);
    console::addViewerRoutes(s, routes);
    console::addLaunchRoutes(s, routes);
    console::addDicomWebRoutes(s, routes);
    pages.mountStaticFiles(s);

    s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      // `curl -X POST URL` sends neither a body nor a Content-Length, which httplib
      // answers with 400 before any route sees it. An empty body is what such a
      // request means. (The request is httplib's own, non-const object.)
      if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding"))
        const_cast<httplib::Request&>(req).headers.emplace("Content-Length", "0");
      return access.check(req, res);
    });

    s.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
    });

    // What a handler throws is answered like every other error: bad input 400, unknown 404.
    s.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
      try {
        std::rethrow_exception(ep);
      } catch (const Error& e) {
        int status = e.code() == Errc::InvalidArgument ? 400 : e.code() == Errc::NotFound ? 404 : 500;
        if (status == 500) log->error("{} {}: {}", req.method, req.path, e.what());
        console::answerError(res, status, e.what());
      } catch (const std::exception& e) {
        log->error("{} {}: {}", req.method, req.path, e.what());
        console::answerError(res, 500, std::string("internal error: ") + e.what());
      }
    });

    // Errors httplib decides itself (unknown path, body too large) get the same body.
    s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (res.body.empty()) console::answerError(res, res.status, "no such resource: " + req.method + " " + req.path);
    });
  }
};

ConsoleServer::ConsoleServer(ConsoleContext context) : impl_(std::make_unique<Impl>(std::move(context))) {
  impl_->registerRoutes();
  int threads = impl_->context.config.threads;
  impl_->server->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  // No request of this API carries more than a small JSON body; refuse the rest
  // before reading it (httplib's default is unlimited).
  impl_->server->set_payload_max_length(64 * 1024);
}

ConsoleServer::~ConsoleServer() { stop(); }

void ConsoleServer::start() {
  const auto& config = impl_->context.config;
  if (!config.token.empty() && config.token.size() < kMinSecretLength)
    throw Error(Errc::InvalidConfig, "console.token is " + std::to_string(config.token.size()) +
                                         " characters long; use at least " + std::to_string(kMinSecretLength) +
                                         " (e.g. the output of: openssl rand -hex 24)");
  if (!impl_->context.launch_secret.empty() && impl_->context.launch_secret.size() < kMinSecretLength)
    throw Error(Errc::InvalidConfig, "console.launch_secret is " + std::to_string(impl_->context.launch_secret.size()) +
                                         " characters long; use at least " + std::to_string(kMinSecretLength) +
                                         " (e.g. the output of: openssl rand -hex 24)");
  const bool loopback = console::isLoopbackBind(config.bind);
  if (!loopback && config.token.empty())
    throw Error(Errc::InvalidConfig, "console.bind = \"" + config.bind +
                                         "\" exposes the console beyond this machine; set console.token first");
  if (!loopback && !impl_->routes.tls && !config.allow_plain_http)
    throw Error(Errc::InvalidConfig, "console.bind = \"" + config.bind +
                                         "\" without TLS would send the console token and patient data in clear; set "
                                         "console.tls_cert and console.tls_key, or console.allow_plain_http = true on a "
                                         "network you trust");
  if (config.read_requires_token && config.token.empty())
    throw Error(Errc::InvalidConfig, "console.read_requires_token = true needs console.token (nobody could read)");
  int port = config.port;
  if (port == 0) {
    port = impl_->server->bind_to_any_port(config.bind.c_str());
    if (port <= 0) port = -1;
  } else if (!impl_->server->bind_to_port(config.bind.c_str(), port)) {
    port = -1;
  }
  if (port < 0)
    throw Error(Errc::Network, "cannot listen for the console on " + config.bind + ":" +
                                   std::to_string(config.port) + " (address in use or not available)");
  impl_->routes.bound_port = port;
  impl_->thread = std::thread([this] { impl_->server->listen_after_bind(); });
  impl_->log->info("console on {}://{}:{}/ (reads of patient data {})", impl_->routes.tls ? "https" : "http",
                   config.bind, port, impl_->access.readsNeedToken() ? "need the token" : "open on loopback");
}

void ConsoleServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->server->stop();
  impl_->thread.join();
}

int ConsoleServer::port() const { return impl_->routes.bound_port; }

}  // namespace volnode
