#include "volnode/storage/retention.hpp"

#include <chrono>
#include <ctime>

#include "volnode/core/clock.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/storage/volume_cache_cap.hpp"

namespace volnode {
namespace {

// "2026-11-26T12:00:00.000Z" minus `days`, in the same format (so strings compare as times).
std::string isoMinusDays(const std::string& now_iso, double days) {
  std::tm tm{};
  strptime(now_iso.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  auto now = std::chrono::system_clock::from_time_t(timegm(&tm));
  return isoUtc(now - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                          std::chrono::duration<double, std::ratio<86400>>(days)));
}

}  // namespace

RetentionPolicy::RetentionPolicy(const RetentionConfig& config, Index& index, JobQueue& jobs, FileStore& files,
                                 std::filesystem::path results_root)
    : config_(config), index_(index), jobs_(jobs), files_(files), results_root_(std::move(results_root)) {}

RetentionSweep RetentionPolicy::sweep(const std::string& now_iso) {
  RetentionSweep sweep;
  if (!enabled()) return sweep;
  auto log = moduleLogger("storage");
  auto remove = [&](const std::string& study_uid, const std::string& delivered_at, const std::string& why) {
    auto files = index_.removeStudy(study_uid);
    int64_t bytes = 0;
    for (const auto& f : files) {
      std::error_code ec;
      bytes += static_cast<int64_t>(std::filesystem::file_size(files_.absolute(f), ec));
    }
    // Durably: a file that came back after a power loss would be indexed again at start-up.
    files_.removeDurably(files);
    int64_t result_bytes = 0;
    if (!results_root_.empty())
      for (int64_t job : jobs_.renderJobsOfStudy(study_uid)) {
        const auto dir = results_root_ / std::to_string(job);
        std::error_code ec;
        for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
          if (it->is_regular_file(ec)) result_bytes += static_cast<int64_t>(it->file_size(ec));
        std::filesystem::remove_all(dir, ec);
        if (ec) log->warn("retention: cannot remove the results of job {} ({}): {}", job, dir.string(), ec.message());
      }
    sweep.deleted_studies.push_back(study_uid);
    sweep.deleted_bytes += bytes;
    sweep.deleted_result_bytes += result_bytes;
    log->info("retention: deleted study {} ({} instances, {:.1f} MB, and {:.1f} MB of rendered results; results "
              "delivered {}): {}",
              study_uid, files.size(), bytes / 1e6, result_bytes / 1e6, delivered_at, why);
  };

  auto delivered = jobs_.deliveredStudies();  // oldest delivery first
  std::vector<std::pair<std::string, std::string>> kept;
  if (config_.delete_after_days > 0) {
    std::string cutoff = isoMinusDays(now_iso, config_.delete_after_days);
    for (const auto& [study, at] : delivered) {
      if (at < cutoff && index_.study(study))
        remove(study, at, "older than retention.delete_after_days");
      else
        kept.emplace_back(study, at);
    }
  } else {
    kept = delivered;
  }
  if (config_.max_store_gb > 0) {
    auto cap = static_cast<int64_t>(config_.max_store_gb * 1e9);
    for (const auto& [study, at] : kept) {
      if (index_.storedBytes() <= cap) break;
      if (index_.study(study)) remove(study, at, "store above retention.max_store_gb");
    }
    if (index_.storedBytes() > cap)
      log->warn("retention: store holds {:.1f} GB, above the {:.1f} GB cap, but nothing else is delivered yet",
                index_.storedBytes() / 1e9, config_.max_store_gb);
  }
  if (config_.max_volume_cache_gb > 0 && !results_root_.empty()) {
    const auto trim = trimVolumeCache(results_root_, static_cast<int64_t>(config_.max_volume_cache_gb * 1e9));
    sweep.removed_volume_files = trim.removed;
    sweep.removed_volume_bytes = trim.removed_bytes;
  }
  return sweep;
}

}  // namespace volnode
