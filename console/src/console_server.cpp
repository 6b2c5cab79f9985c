#include "volnode/console/console_server.hpp"

#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "json_views.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

void sendJson(httplib::Response& response, const nlohmann::json& body, int status = 200) {
  response.status = status;
  response.set_header("Cache-Control", "no-store");
  response.set_header("X-Content-Type-Options", "nosniff");
  // error_handler_t::replace: text from DICOM data that is not valid UTF-8 never breaks a response.
  response.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void sendError(httplib::Response& response, int status, const std::string& message) {
  sendJson(response, {{"error", message}, {"status", status}}, status);
}

int intParam(const httplib::Request& request, const std::string& name, int fallback, int min, int max) {
  if (!request.has_param(name)) return fallback;
  const std::string text = request.get_param_value(name);
  try {
    size_t used = 0;
    int value = std::stoi(text, &used);
    if (used != text.size() || value < min || value > max) throw std::out_of_range(name);
    return value;
  } catch (const std::exception&) {
    throw Error(Errc::InvalidArgument,
                "query parameter '" + name + "' must be an integer in " + std::to_string(min) + ".." + std::to_string(max));
  }
}

}  // namespace

struct ConsoleServer::Impl {
  ConsoleContext context;
  ConsoleConfig& config = context.config;
  Index& index = context.index;
  std::function<HealthReport()>& health = context.health;
  httplib::Server server;
  std::thread thread;
  std::shared_ptr<spdlog::logger> log = moduleLogger("console");

  explicit Impl(ConsoleContext c) : context(std::move(c)) {}

  void routes() {
    server.Get("/api/health", [this](const httplib::Request&, httplib::Response& res) {
      sendJson(res, toJson(health(), index.counts()));
    });

    server.Get("/api/studies", [this](const httplib::Request& req, httplib::Response& res) {
      StudyQuery query;
      query.text = req.get_param_value("q");
      query.modality = req.get_param_value("modality");
      query.date_from = req.get_param_value("from");
      query.date_to = req.get_param_value("to");
      query.limit = intParam(req, "limit", 100, 1, 1000);
      query.offset = intParam(req, "offset", 0, 0, 100000000);
      nlohmann::json studies = nlohmann::json::array();
      for (const auto& study : index.listStudies(query)) studies.push_back(toJson(study));
      sendJson(res, {{"studies", studies}, {"limit", query.limit}, {"offset", query.offset}});
    });

    server.Get(R"(/api/studies/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string uid = req.matches[1];
      auto study = index.study(uid);
      if (!study) return sendError(res, 404, "no study with StudyInstanceUID " + uid);
      nlohmann::json body = toJson(*study);
      nlohmann::json series = nlohmann::json::array();
      for (const auto& s : index.seriesOfStudy(uid)) series.push_back(toJson(s));
      body["series"] = series;
      sendJson(res, body);
    });

    server.Get(R"(/api/series/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string uid = req.matches[1];
      auto series = index.series(uid);
      if (!series) return sendError(res, 404, "no series with SeriesInstanceUID " + uid);
      nlohmann::json body = toJson(*series);
      if (auto first = index.firstInstanceAttributes(uid)) {
        body["SOPClassUID"] = first->sop_class_uid;
        body["Rows"] = first->rows.value_or(0);
        body["Columns"] = first->columns.value_or(0);
        body["PixelSpacing"] = first->pixel_spacing;
        body["ImageOrientationPatient"] = first->image_orientation;
        body["SliceThickness"] = first->slice_thickness;
        body["TransferSyntaxUID"] = first->transfer_syntax_uid;
        body["PatientID"] = first->patient_id;
        body["PatientName"] = first->patient_name;
      }
      nlohmann::json transitions = nlohmann::json::array();
      for (const auto& t : index.seriesTransitions(uid)) transitions.push_back(toJson(t));
      body["transitions"] = transitions;
      sendJson(res, body);
    });

    server.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
      try {
        std::rethrow_exception(ep);
      } catch (const Error& e) {
        int status = e.code() == Errc::InvalidArgument ? 400 : e.code() == Errc::NotFound ? 404 : 500;
        if (status == 500) log->error("{} {}: {}", req.method, req.path, e.what());
        sendError(res, status, e.what());
      } catch (const std::exception& e) {
        log->error("{} {}: {}", req.method, req.path, e.what());
        sendError(res, 500, std::string("internal error: ") + e.what());
      }
    });

    // Unknown API paths answer JSON, not httplib's default empty 404.
    server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (res.body.empty()) sendError(res, res.status, "no such resource: " + req.method + " " + req.path);
    });
  }
};

ConsoleServer::ConsoleServer(ConsoleContext context) : impl_(std::make_unique<Impl>(std::move(context))) {
  impl_->routes();
  int threads = impl_->config.threads;
  impl_->server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
}

ConsoleServer::~ConsoleServer() { stop(); }

void ConsoleServer::start() {
  bool loopback = impl_->config.bind == "127.0.0.1" || impl_->config.bind == "::1" || impl_->config.bind == "localhost";
  if (!loopback && impl_->config.token.empty())
    throw Error(Errc::InvalidConfig, "console.bind = \"" + impl_->config.bind +
                                         "\" exposes the console beyond this machine; set console.token first");
  if (!impl_->server.bind_to_port(impl_->config.bind.c_str(), impl_->config.port))
    throw Error(Errc::Network, "cannot listen for the console on " + impl_->config.bind + ":" +
                                   std::to_string(impl_->config.port) + " (address in use or not available)");
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  impl_->log->info("console on http://{}:{}/", impl_->config.bind, impl_->config.port);
}

void ConsoleServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->server.stop();
  impl_->thread.join();
}

}  // namespace volnode
