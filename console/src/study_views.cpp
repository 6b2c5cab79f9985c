#include "study_views.hpp"

#include <map>
#include <regex>

#include "results.hpp"

namespace volnode::console {

bool producesResults(const Job& job) { return job.kind != JobKind::Send && isActive(job.state); }

StudyViews::StudyViews(const ConsoleContext& context, ActivityQueries& activity)
    : context_(context), activity_(activity) {}

nlohmann::json StudyViews::seriesResults(const std::string& series_uid) {
  auto outputs = context_.jobs.outputsOfSeries(series_uid);
  std::optional<int64_t> job_id =
      outputs.empty() ? activity_.latestSucceededRender(series_uid) : std::optional<int64_t>(outputs.front().job_id);
  if (!job_id) return nullptr;
  auto body = renderResultsJson(context_.results_root, *job_id, outputs);
  if (auto job = context_.jobs.get(*job_id)) {
    body["rule"] = job->rule;
    body["finished_at"] = job->finished_at;
  }
  return body;
}

nlohmann::json StudyViews::studyResults(const std::string& study_uid) {
  nlohmann::json series = nlohmann::json::array();
  for (const auto& s : context_.index.seriesOfStudy(study_uid)) {
    auto results = seriesResults(s.series_uid);
    if (results.is_null()) continue;
    results["SeriesInstanceUID"] = s.series_uid;
    results["SeriesDescription"] = s.series_description;
    results["Modality"] = s.modality;
    series.push_back(results);
  }
  return series;
}

// The volume comes from the "done" transition's reason ("... (512x512x120, 0.70x0.70x2.50 mm...)").
nlohmann::json StudyViews::geometry(const std::string& series_uid, const std::vector<SeriesTransition>& transitions) {
  nlohmann::json g = nlohmann::json::object();
  if (auto first = context_.index.firstInstanceAttributes(series_uid)) {
    g["acquisition"] = {{"Rows", first->rows.value_or(0)},
                        {"Columns", first->columns.value_or(0)},
                        {"NumberOfFrames", first->number_of_frames.value_or(1)},
                        {"PixelSpacing", first->pixel_spacing},
                        {"SliceThickness", first->slice_thickness},
                        {"ImageOrientationPatient", first->image_orientation}};
  }
  static const std::regex volume(R"((\d+)x(\d+)x(\d+), ([0-9.]+)x([0-9.]+)x([0-9.]+) mm)");
  const std::string done(toString(SeriesState::Done));
  for (auto it = transitions.rbegin(); it != transitions.rend(); ++it) {
    std::smatch m;
    if (it->state == done && std::regex_search(it->reason, m, volume)) {
      g["volume"] = {{"dimensions", {std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3])}},
                     {"spacing_mm", {std::stod(m[4]), std::stod(m[5]), std::stod(m[6])}}};
      break;
    }
  }
  return g;
}

nlohmann::json StudyViews::timeline(const std::string& study_uid) {
  nlohmann::json events = nlohmann::json::array();
  auto add = [&](const std::string& at, const std::string& milestone, const std::string& source,
                 const std::string& series_uid, int64_t job_id, const std::string& state, const std::string& text) {
    events.push_back({{"at", at}, {"milestone", milestone}, {"source", source}, {"SeriesInstanceUID", series_uid},
                      {"job_id", job_id}, {"state", state}, {"message", text}});
  };
  for (const auto& s : context_.index.seriesOfStudy(study_uid)) {
    // Which series an entry is about, as a reader of the PACS knows it: "series 3 (CT HEAD 5mm)".
    std::string label = "series " + (s.series_number.empty() ? s.series_uid : s.series_number);
    if (!s.series_description.empty()) label += " (" + s.series_description + ")";
    bool first = true;
    for (const auto& t : context_.index.seriesTransitions(s.series_uid)) {
      auto state = parseSeriesState(t.state);
      std::string milestone = first && state == SeriesState::Receiving                    ? "first_instance"
                              : state == SeriesState::Complete                             ? "complete"
                              : state == SeriesState::Done                                 ? "rendered"
                              : state == SeriesState::Refused || state == SeriesState::Failed ? "failed"
                                                                                              : "";
      add(t.at, milestone, "series", s.series_uid, 0, t.state, label + ": " + t.reason);
      first = false;
    }
  }
  JobFilter filter;
  filter.study_uid = study_uid;
  filter.limit = 200;
  for (const auto& job : context_.jobs.list(filter))
    for (const auto& e : context_.jobs.events(job.id)) {
      std::string text = std::string(toString(job.kind)) + (job.destination.empty() ? "" : " to " + job.destination) +
                         (e.message.empty() ? "" : ": " + e.message);
      add(e.at, parseJobState(e.state) == JobState::Failed ? "failed" : "", "job", job.series_uid, job.id, e.state,
          text);
    }
  // One entry per destination and render: when the last object was acknowledged.
  std::map<std::pair<std::string, int64_t>, std::pair<std::string, int>> acknowledged;
  for (const auto& d : activity_.deliveriesOfStudy(study_uid)) {
    auto& entry = acknowledged[{d.destination, d.job_id}];
    entry.first = std::max(entry.first, d.at);
    entry.second++;
  }
  for (const auto& [key, value] : acknowledged)
    add(value.first, "acknowledged", "delivery", "", key.second, "acknowledged",
        key.first + " acknowledged " + std::to_string(value.second) + " object(s) of render job " +
            std::to_string(key.second));
  std::stable_sort(events.begin(), events.end(),
                   [](const nlohmann::json& a, const nlohmann::json& b) { return a["at"] < b["at"]; });
  return events;
}

}  // namespace volnode::console
