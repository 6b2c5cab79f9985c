#pragma once
// How index records look in the JSON API (DICOM keywords as field names).
#include <nlohmann/json.hpp>

#include "volnode/console/console_server.hpp"
#include "volnode/storage/activity_queries.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/storage/records.hpp"

namespace volnode {

nlohmann::json toJson(const StudySummary& study);
nlohmann::json toJson(const SeriesSummary& series);
nlohmann::json toJson(const SeriesTransition& transition);
nlohmann::json toJson(const HealthReport& health, const IndexCounts& counts);
nlohmann::json toJson(const Job& job);
nlohmann::json toJson(const JobEvent& event);
// A job output with its download URL (empty until the file is written).
nlohmann::json toJson(const JobOutput& output);
nlohmann::json toJson(const DestinationStatus& destination);
nlohmann::json toJson(const RecentError& error);
// A cluster member; times in ISO UTC from the database's clock, "state": "alive" | "stale".
nlohmann::json toJson(const ClusterMember& member);
// Jobs per state, every state present (0 when none).
nlohmann::json jobCountsJson(const std::vector<std::pair<std::string, int64_t>>& counts_by_state);

// URL path segment: everything but unreserved characters percent-encoded.
std::string urlEncode(const std::string& text);

}  // namespace volnode
