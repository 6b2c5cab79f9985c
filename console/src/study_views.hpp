#pragma once
// What the pages show of a study beyond its index rows: the results of its
// series' latest renders, the volume geometry, and the timeline from the first
// instance to the last acknowledgement. Shared by the study, viewer and launch routes.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "volnode/console/console_server.hpp"
#include "volnode/storage/activity_queries.hpp"

namespace volnode::console {

// A route or render job still to finish: the study's results are on their way.
bool producesResults(const Job& job);

class StudyViews {
 public:
  StudyViews(const ConsoleContext& context, ActivityQueries& activity);

  // The latest succeeded render of a series (outputs, views, mesh, thumbnail), or null.
  nlohmann::json seriesResults(const std::string& series_uid);
  // The results of every series of the study that has them.
  nlohmann::json studyResults(const std::string& study_uid);
  // The acquisition (first instance) and the volume the last render built.
  nlohmann::json geometry(const std::string& series_uid, const std::vector<SeriesTransition>& transitions);
  // Series transitions, job events and deliveries of the study, oldest first.
  nlohmann::json timeline(const std::string& study_uid);

 private:
  const ConsoleContext& context_;
  ActivityQueries& activity_;
};

}  // namespace volnode::console
