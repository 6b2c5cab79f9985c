// The node itself: the dashboard and settings pages, health, recent errors,
// throughput, the effective settings, the Prometheus metrics, and the cluster
// (every serve node and worker process sharing the index).
#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "http_answers.hpp"
#include "json_views.hpp"
#include "metrics.hpp"
#include "request_params.hpp"
#include "routes.hpp"
#include "volnode/core/clock.hpp"

namespace volnode::console {
namespace {

std::string minuteKey(std::chrono::system_clock::time_point t) { return isoUtc(t).substr(0, 16); }

// Per minute over the last hour (60 buckets, zeros included); kept for 5 s so
// every open dashboard polling does not rescan the instances table.
class ThroughputCache {
 public:
  explicit ThroughputCache(ActivityQueries& activity) : activity_(activity) {}

  nlohmann::json lastHour() {
    std::lock_guard lock(mutex_);
    auto now_steady = std::chrono::steady_clock::now();
    if (!cached_.is_null() && now_steady - cached_at_ < std::chrono::seconds(5)) return cached_;
    auto first = std::chrono::system_clock::now() - std::chrono::minutes(59);
    std::map<std::string, ThroughputMinute> found;
    for (auto& m : activity_.throughputSince(minuteKey(first))) found[m.minute] = m;
    nlohmann::json minutes = nlohmann::json::array();
    int64_t instances = 0;
    for (int i = 0; i < 60; ++i) {
      std::string key = minuteKey(first + std::chrono::minutes(i));
      auto it = found.find(key);
      ThroughputMinute m = it == found.end() ? ThroughputMinute{} : it->second;
      instances += m.instances;
      minutes.push_back({{"minute", key}, {"instances", m.instances}, {"bytes", m.bytes}, {"renders", m.renders},
                         {"sends", m.sends}});
    }
    cached_ = {{"minutes", minutes}, {"instances_last_hour", instances}};
    cached_at_ = now_steady;
    return cached_;
  }

 private:
  ActivityQueries& activity_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point cached_at_{};
  nlohmann::json cached_;
};

HealthReport healthNow(const ConsoleContext& node) { return node.health ? node.health() : HealthReport{}; }

std::vector<DestinationStatus> destinationsNow(const ConsoleContext& node) {
  return node.actions ? node.actions->destinations() : std::vector<DestinationStatus>{};
}

nlohmann::json healthJson(const ConsoleContext& node) {
  HealthReport health = healthNow(node);
  IndexCounts counts;
  try {
    counts = node.index.counts();
  } catch (const std::exception& e) {  // the health of a node whose database is away is an answer, not a 500
    health.index_reachable = false;
    if (health.index_error.empty()) health.index_error = e.what();
  }
  nlohmann::json body = toJson(health, counts);
  nlohmann::json destinations = nlohmann::json::array();
  bool all_reachable = true;
  for (const auto& d : destinationsNow(node)) {
    destinations.push_back(toJson(d));
    all_reachable = all_reachable && d.reachable;
  }
  body["destinations"] = destinations;
  body["destinations_reachable"] = all_reachable;
  return body;
}

nlohmann::json listJson(const std::vector<RecentError>& list) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : list) out.push_back(toJson(e));
  return out;
}

// Text the application handed over as JSON: parsed, kept as text when it is not JSON.
nlohmann::json parsedOrText(const std::string& text) {
  if (text.empty()) return nullptr;
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json(text) : j;
}

}  // namespace

void addSystemRoutes(httplib::Server& server, RouteContext& routes) {
  auto throughput = std::make_shared<ThroughputCache>(routes.activity);
  const ConsoleContext& node = routes.node;

  server.Get("/", [&routes](const httplib::Request&, httplib::Response& res) {
    routes.pages.answerPage(res, "dashboard.html");
  });
  server.Get("/settings", [&routes](const httplib::Request&, httplib::Response& res) {
    routes.pages.answerPage(res, "settings.html");
  });
  server.Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });

  server.Get("/api/health", [&node](const httplib::Request&, httplib::Response& res) {
    answerJson(res, healthJson(node));
  });
  // Liveness for orchestrators: the process answers HTTP. It reads nothing, so a node
  // whose database is away (degraded in /api/health) is not restarted for it.
  server.Get("/api/health/live", [](const httplib::Request&, httplib::Response& res) {
    answerJson(res, {{"status", "alive"}});
  });

  server.Get("/api/dashboard", [&node, &routes, throughput](const httplib::Request&, httplib::Response& res) {
    answerJson(res, {{"health", healthJson(node)},
                     {"jobs", jobCountsJson(node.jobs.countsByState())},
                     {"errors", listJson(routes.activity.recentErrors(10))},
                     {"refusals", listJson(routes.activity.recentRefusals(10))},
                     {"throughput", throughput->lastHour()}});
  });

  server.Get("/api/cluster", [&node](const httplib::Request&, httplib::Response& res) {
    nlohmann::json members = nlohmann::json::array();
    int serve = 0, workers = 0, stale = 0;
    if (node.cluster)
      for (const auto& m : node.cluster->list()) {
        members.push_back(toJson(m));
        if (m.stale) {
          ++stale;
          continue;
        }
        if (m.info.role == "serve") ++serve;
        workers += m.info.workers;  // render worker processes, of serve nodes and workers alike
      }
    answerJson(res, {{"members", members},
                     {"self", node.cluster_self ? node.cluster_self() : 0},
                     {"serve_nodes_alive", serve},
                     {"worker_processes_alive", workers},
                     {"stale", stale}});
  });

  server.Get("/api/errors", [&routes](const httplib::Request& req, httplib::Response& res) {
    answerJson(res, {{"errors", listJson(routes.activity.recentErrors(intParam(req, "limit", 20, 1, 500)))}});
  });

  server.Get("/api/refusals", [&routes](const httplib::Request& req, httplib::Response& res) {
    answerJson(res, {{"refusals", listJson(routes.activity.recentRefusals(intParam(req, "limit", 20, 1, 500)))}});
  });

  server.Get("/api/throughput", [throughput](const httplib::Request&, httplib::Response& res) {
    answerJson(res, throughput->lastHour());
  });

  server.Get("/api/settings", [&node, &routes](const httplib::Request&, httplib::Response& res) {
    const ConsoleConfig& config = node.config;
    answerJson(res, {{"config_toml", node.effective_config_toml},
                     {"rules", parsedOrText(node.rules_json)},
                     {"presets", parsedOrText(node.presets_json)},
                     {"console",
                      {{"bind", config.bind},
                       {"port", routes.bound_port},
                       {"mutations_enabled", !config.token.empty()},
                       {"reads_need_token", routes.access.readsNeedToken()},
                       {"allowed_hosts", config.allowed_hosts},
                       {"launch_tokens", !node.launch_secret.empty()},
                       {"tls", !node.tls_cert_file.empty()},
                       {"on_demand_render", node.actions != nullptr}}}});
  });

  server.Get("/metrics", [&node, &routes](const httplib::Request&, httplib::Response& res) {
    auto text = prometheusText(healthNow(node), node.index.counts(), routes.activity.totals(), destinationsNow(node));
    if (node.viewer) text += viewerPrometheusText(node.viewer->stats());
    res.set_header("Cache-Control", "no-store");
    res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace volnode::console
