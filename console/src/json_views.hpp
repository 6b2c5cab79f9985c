#pragma once
// How index records look in the JSON API (DICOM keywords as field names).
#include <nlohmann/json.hpp>

#include "volnode/console/console_server.hpp"
#include "volnode/storage/records.hpp"

namespace volnode {

nlohmann::json toJson(const StudySummary& study);
nlohmann::json toJson(const SeriesSummary& series);
nlohmann::json toJson(const SeriesTransition& transition);
nlohmann::json toJson(const HealthReport& health, const IndexCounts& counts);

}  // namespace volnode
