#include "parallel_delivery.hpp"

#include <algorithm>
#include <exception>
#include <system_error>
#include <thread>

#include "volnode/core/logging.hpp"

namespace volnode {

std::vector<std::vector<std::size_t>> splitBySize(const std::vector<std::uintmax_t>& sizes, std::size_t groups) {
  groups = std::max<std::size_t>(1, std::min(groups, sizes.size()));
  std::vector<std::vector<std::size_t>> split(groups);
  std::vector<std::uintmax_t> bytes(groups, 0);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    // The lightest group; among equals the one with fewer files, so equal files alternate.
    std::size_t lightest = 0;
    for (std::size_t g = 1; g < groups; ++g)
      if (bytes[g] < bytes[lightest] || (bytes[g] == bytes[lightest] && split[g].size() < split[lightest].size()))
        lightest = g;
    split[lightest].push_back(i);
    bytes[lightest] += sizes[i];
  }
  split.erase(std::remove_if(split.begin(), split.end(), [](const auto& group) { return group.empty(); }), split.end());
  return split;
}

ParallelDelivery::ParallelDelivery(std::vector<std::unique_ptr<ObjectDelivery>> lanes) : lanes_(std::move(lanes)) {}

std::string ParallelDelivery::peerDescription() const { return lanes_.front()->peerDescription(); }

SendReport ParallelDelivery::deliver(const std::vector<std::filesystem::path>& files,
                                     const std::set<std::string>& known_refused) {
  if (lanes_.size() == 1 || files.size() <= 1) return lanes_.front()->deliver(files, known_refused);
  std::vector<std::uintmax_t> sizes;
  for (const auto& file : files) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    sizes.push_back(ec ? 0 : size);  // a missing file fails in its lane, with the reason
  }
  const auto groups = splitBySize(sizes, lanes_.size());

  std::vector<SendReport> reports(groups.size());
  std::vector<std::exception_ptr> errors(groups.size());
  std::vector<std::thread> threads;
  for (std::size_t g = 0; g < groups.size(); ++g)
    threads.emplace_back([&, g] {
      try {
        std::vector<std::filesystem::path> mine;
        for (std::size_t i : groups[g]) mine.push_back(files[i]);
        reports[g] = lanes_[g]->deliver(mine, known_refused);
      } catch (...) {
        errors[g] = std::current_exception();
      }
    });
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors)
    if (error) std::rethrow_exception(error);

  SendReport merged;
  merged.files.resize(files.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    SendReport& report = reports[g];
    for (std::size_t k = 0; k < groups[g].size() && k < report.files.size(); ++k)
      merged.files[groups[g][k]] = std::move(report.files[k]);
    // The first lane that failed as a whole names the failure (the others most likely
    // failed the same way: the same peer).
    if (merged.association == AssociationFailure::None && report.association != AssociationFailure::None) {
      merged.association = report.association;
      merged.association_error = report.association_error;
    }
    merged.refused_sop_classes.insert(report.refused_sop_classes.begin(), report.refused_sop_classes.end());
  }
  const auto lanes_failed = static_cast<std::size_t>(std::count_if(
      reports.begin(), reports.end(), [](const SendReport& report) { return report.association != AssociationFailure::None; }));
  merged.associations_opened = reports.size();
  if (lanes_failed > 0 && lanes_failed < reports.size()) {
    merged.associations_turned_away = lanes_failed;
    sendAgainOnOneLane(files, known_refused, merged);
  }
  return merged;
}

void ParallelDelivery::sendAgainOnOneLane(const std::vector<std::filesystem::path>& files,
                                          const std::set<std::string>& known_refused, SendReport& merged) {
  // A peer that takes fewer associations at once than configured refuses the others
  // (or one was lost): what they held goes again over one association, now that the
  // others are done, instead of failing the pass.
  std::vector<std::size_t> again;
  for (std::size_t i = 0; i < merged.files.size(); ++i)
    if (merged.files[i].outcome == SendOutcome::Failed && !merged.files[i].has_status) again.push_back(i);
  if (again.empty()) return;
  moduleLogger("pipeline")->info("{}: {} object(s) again over one association after: {}", peerDescription(),
                                 again.size(), merged.association_error);
  std::vector<std::filesystem::path> subset;
  for (std::size_t i : again) subset.push_back(files[i]);
  std::set<std::string> refused = known_refused;
  refused.insert(merged.refused_sop_classes.begin(), merged.refused_sop_classes.end());
  SendReport retry = lanes_.front()->deliver(subset, refused);
  for (std::size_t k = 0; k < again.size() && k < retry.files.size(); ++k) merged.files[again[k]] = std::move(retry.files[k]);
  merged.association = retry.association;
  merged.association_error = retry.association_error;
  merged.refused_sop_classes.insert(retry.refused_sop_classes.begin(), retry.refused_sop_classes.end());
}

}  // namespace volnode
