#pragma once
// Render results on disk: <results_root>/<job id>/{dicom,png,mesh}. Request text
// never becomes part of a path: a job id is a number, PNG names must match a
// strict pattern, DICOM objects are found through the job_outputs table.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "volnode/storage/job_queue.hpp"

namespace volnode::console {

// "<preset>-<view>.png" with view anterior|posterior|left|right|superior|inferior|spin-NNN.
bool isResultPngName(const std::string& name, std::string* preset = nullptr, std::string* view = nullptr);
// Digits and dots, at most 64 characters.
bool isDicomUid(const std::string& text);

// root/relative when it stays inside root after resolving "..", links and the like.
std::optional<std::filesystem::path> insideRoot(const std::filesystem::path& root, const std::filesystem::path& relative);

// The results of one render job for the API: outputs with URLs, PNG views and spin
// frames per preset, the mesh and a thumbnail (the first anterior view).
nlohmann::json renderResultsJson(const std::filesystem::path& results_root, int64_t job_id,
                                 const std::vector<JobOutput>& outputs);

}  // namespace volnode::console
