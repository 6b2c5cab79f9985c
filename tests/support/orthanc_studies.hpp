#pragma once
// What the end-to-end tests with Orthanc share: studies uploaded over Orthanc's
// REST API, its JSON answers, and the node's jobs as its console lists them.
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/node_process.hpp"
#include "support/orthanc_process.hpp"

namespace volnode::test {

std::string readBytes(const std::filesystem::path& file);

// Uploads every DICOM file of a folder to Orthanc over REST; returns Orthanc's study
// id ("" when nothing was taken; non-DICOM files are refused by Orthanc and skipped).
std::string uploadToOrthanc(const OrthancProcess& orthanc, const std::filesystem::path& folder);

// Orthanc's JSON answer to a GET (expects 200; null when the body is not JSON).
nlohmann::json orthancJson(const OrthancProcess& orthanc, const std::string& path);

// Jobs of a kind as the node's console lists them (newest first).
std::vector<nlohmann::json> nodeJobs(const NodeProcess& node, const std::string& kind);

bool jobFinished(const nlohmann::json& job);  // succeeded, failed or canceled

// The first job of `kind` that finished, polling until `timeout`; null when none did.
nlohmann::json waitForFinishedJob(const NodeProcess& node, const std::string& kind, std::chrono::seconds timeout);

}  // namespace volnode::test
