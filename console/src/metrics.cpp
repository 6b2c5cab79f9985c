#include "metrics.hpp"

#include <fmt/format.h>

namespace volnode::console {
namespace {

// Label values: backslash, double quote and newline escaped as the format requires.
std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

class Writer {
 public:
  void family(const std::string& name, const std::string& type, const std::string& help) {
    text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(const std::string& name, double value, const std::string& labels = "") {
    text_ += name;
    if (!labels.empty()) text_ += "{" + labels + "}";
    text_ += " " + fmt::format("{}", value) + "\n";
  }
  void histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                 const std::vector<double>& samples) {
    family(name, "histogram", help);
    double sum = 0;
    for (double s : samples) sum += s;
    for (double bound : bounds) {
      size_t n = 0;
      for (double s : samples) n += s <= bound ? 1 : 0;
      sample(name + "_bucket", static_cast<double>(n), fmt::format("le=\"{}\"", bound));
    }
    sample(name + "_bucket", static_cast<double>(samples.size()), "le=\"+Inf\"");
    sample(name + "_sum", sum);
    sample(name + "_count", static_cast<double>(samples.size()));
  }
  // A histogram whose buckets are already counted (cumulative, as the format wants).
  void countedHistogram(const std::string& name, const std::string& labels, const ViewerStats::Latency& h) {
    const std::string prefix = labels.empty() ? "" : labels + ",";
    for (size_t n = 0; n < h.bounds_s.size() && n < h.cumulative.size(); ++n)
      sample(name + "_bucket", static_cast<double>(h.cumulative[n]), prefix + fmt::format("le=\"{}\"", h.bounds_s[n]));
    sample(name + "_bucket", static_cast<double>(h.count), prefix + "le=\"+Inf\"");
    sample(name + "_sum", h.sum_s, labels);
    sample(name + "_count", static_cast<double>(h.count), labels);
  }
  std::string text() && { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace

std::string prometheusText(const HealthReport& h, const IndexCounts& c, const ActivityTotals& t,
                           const std::vector<DestinationStatus>& destinations) {
  Writer w;
  w.family("volnode_up", "gauge", "1 while the node serves its console");
  w.sample("volnode_up", 1);
  w.family("volnode_uptime_seconds", "gauge", "Seconds since the node started");
  w.sample("volnode_uptime_seconds", h.uptime_s);
  w.family("volnode_worker_deaths_total", "counter",
           "Worker processes that died while the node ran (crash, OOM killer, kill, time-out)");
  w.sample("volnode_worker_deaths_total", static_cast<double>(h.worker_deaths));
  w.family("volnode_worker_timeouts_total", "counter", "Workers killed for exceeding render.job_timeout_s");
  w.sample("volnode_worker_timeouts_total", static_cast<double>(h.worker_timeouts));
  w.family("volnode_jobs_failed_by_crashes_total", "counter",
           "Jobs failed for good because their worker died render.max_crashes times");
  w.sample("volnode_jobs_failed_by_crashes_total", static_cast<double>(h.jobs_failed_by_crashes));
  w.family("volnode_dicom_listening", "gauge", "1 while the DICOM listener accepts associations");
  w.sample("volnode_dicom_listening", h.dicom_listening ? 1 : 0);

  w.family("volnode_associations_active", "gauge", "DICOM associations open now");
  w.sample("volnode_associations_active", h.active_associations);
  w.family("volnode_associations_total", "counter", "DICOM associations recorded in the index, by outcome");
  for (const auto& [outcome, n] : t.associations_by_outcome)
    w.sample("volnode_associations_total", static_cast<double>(n), "outcome=\"" + label(outcome) + "\"");
  w.family("volnode_process_associations_total", "counter", "Associations accepted since this process started");
  w.sample("volnode_process_associations_total", static_cast<double>(h.associations_total));
  w.family("volnode_process_associations_refused_total", "counter",
           "Associations refused since this process started");
  w.sample("volnode_process_associations_refused_total", static_cast<double>(h.associations_refused));

  w.family("volnode_received_instances_total", "counter",
           "Instances received over ended associations (the index's associations table)");
  w.sample("volnode_received_instances_total", static_cast<double>(t.received_instances));
  w.family("volnode_received_bytes_total", "counter", "Bytes received over ended associations");
  w.sample("volnode_received_bytes_total", static_cast<double>(t.received_bytes));
  w.family("volnode_instances_received_today", "gauge", "Instances indexed since 00:00 UTC");
  w.sample("volnode_instances_received_today", static_cast<double>(c.instances_today));
  w.family("volnode_index_instances", "gauge", "Instances held");
  w.sample("volnode_index_instances", static_cast<double>(c.instances));
  w.family("volnode_index_bytes", "gauge", "Bytes of instances held");
  w.sample("volnode_index_bytes", static_cast<double>(c.bytes));
  w.family("volnode_index_studies", "gauge", "Studies held");
  w.sample("volnode_index_studies", static_cast<double>(c.studies));

  w.family("volnode_series", "gauge", "Series by state");
  for (const auto& [state, n] : t.series_by_state)
    w.sample("volnode_series", static_cast<double>(n), "state=\"" + label(std::string(toString(state))) + "\"");
  w.family("volnode_jobs", "gauge", "Jobs by kind and state");
  for (const auto& [key, n] : t.jobs_by_kind_and_state)
    w.sample("volnode_jobs", static_cast<double>(n),
             "kind=\"" + label(std::string(toString(key.first))) + "\",state=\"" +
                 label(std::string(toString(key.second))) + "\"");

  w.histogram("volnode_render_duration_seconds",
              "Render job duration (last attempt: started_at to finished_at) of succeeded jobs",
              {1, 2, 5, 10, 20, 30, 60, 120, 300, 600}, t.render_seconds);
  w.histogram("volnode_send_duration_seconds",
              "Send job duration (last attempt: started_at to finished_at) of succeeded jobs",
              {0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120}, t.send_seconds);

  w.family("volnode_destination_failures_total", "counter", "Failed send attempts per destination");
  for (const auto& [dest, n] : t.failed_sends_by_destination)
    w.sample("volnode_destination_failures_total", static_cast<double>(n), "destination=\"" + label(dest) + "\"");
  w.family("volnode_destination_deliveries_total", "counter", "Objects acknowledged per destination");
  for (const auto& [dest, n] : t.deliveries_by_destination)
    w.sample("volnode_destination_deliveries_total", static_cast<double>(n), "destination=\"" + label(dest) + "\"");
  w.family("volnode_destination_reachable", "gauge", "1 when the last C-ECHO to the destination succeeded");
  for (const auto& d : destinations)
    w.sample("volnode_destination_reachable", d.reachable ? 1 : 0, "destination=\"" + label(d.name) + "\"");

  w.family("volnode_disk_free_bytes", "gauge", "Free bytes on the store's file system");
  w.sample("volnode_disk_free_bytes", static_cast<double>(h.disk_free_mb) * 1024 * 1024);
  w.family("volnode_disk_min_free_bytes", "gauge", "Watermark below which C-STORE is refused");
  w.sample("volnode_disk_min_free_bytes", static_cast<double>(h.min_free_mb) * 1024 * 1024);
  w.family("volnode_accepting_instances", "gauge", "1 while the node accepts C-STORE");
  w.sample("volnode_accepting_instances", h.accepting_instances ? 1 : 0);
  return std::move(w).text();
}

std::string viewerPrometheusText(const ViewerStats& v) {
  Writer w;
  w.family("volnode_viewer_sessions_max", "gauge", "Viewer worker processes (viewer.max_sessions): frames rendered at once");
  w.sample("volnode_viewer_sessions_max", v.max_sessions);
  w.family("volnode_viewer_sessions_active", "gauge", "Viewer workers rendering a frame or slice now");
  w.sample("volnode_viewer_sessions_active", v.busy);
  w.family("volnode_viewer_workers_running", "gauge", "Viewer worker processes started");
  w.sample("volnode_viewer_workers_running", v.running);
  w.family("volnode_viewer_frames_total", "counter", "Frames and slices answered (200), by quality: draft, full, slice");
  for (const char* quality : {"draft", "full", "slice"}) {
    auto it = v.answered.find(quality);
    w.sample("volnode_viewer_frames_total", it == v.answered.end() ? 0.0 : static_cast<double>(it->second.count),
             fmt::format("quality=\"{}\"", quality));
  }
  w.family("volnode_viewer_frame_seconds", "histogram",
           "Time from a request reaching the viewer pool to the worker's whole reply (waiting included), by quality");
  for (const auto& [quality, latency] : v.answered)
    w.countedHistogram("volnode_viewer_frame_seconds", "quality=\"" + label(quality) + "\"", latency);
  w.family("volnode_viewer_volume_cache_total", "counter",
           "Where answers found their prepared volume: memory (a hit of the worker's warm LRU), disk (the batch "
           "render's volume.vol) or assembled (both misses)");
  for (const char* source : {"memory", "disk", "assembled"}) {
    auto it = v.volume_source.find(source);
    w.sample("volnode_viewer_volume_cache_total", it == v.volume_source.end() ? 0.0 : static_cast<double>(it->second),
             fmt::format("source=\"{}\"", source));
  }
  w.family("volnode_viewer_refused_total", "counter",
           "Requests answered 503 because every viewer worker stayed busy for viewer.wait_s");
  w.sample("volnode_viewer_refused_total", static_cast<double>(v.refused_busy));
  w.family("volnode_viewer_errors_total", "counter", "Requests not answered with an image, by HTTP status");
  for (const auto& [status, n] : v.failed)
    w.sample("volnode_viewer_errors_total", static_cast<double>(n), fmt::format("status=\"{}\"", status));
  w.family("volnode_viewer_worker_deaths_total", "counter", "Viewer workers that died or hung and were started again");
  w.sample("volnode_viewer_worker_deaths_total", static_cast<double>(v.worker_deaths));
  return std::move(w).text();
}

}  // namespace volnode::console
