#pragma once
// One delivery over several associations (or requests) in parallel: the files of a
// send are split into as many groups as there are lanes, balanced by size and each
// keeping the order it was given in; each lane delivers its group, and the reports
// are merged back into the order of the files. Each file goes on one lane at a time:
// the files of a lane whose association was refused or lost, while another lane's
// worked, go again over one association after the others are done; the report says how
// many associations were opened and how many of them were turned away (AssociationLimits).
#include <cstdint>
#include <memory>
#include <vector>

#include "volnode/workflow/object_delivery.hpp"

namespace volnode {

// Splits files of these sizes into at most `groups` groups (never an empty one):
// each file, in order, joins the group with the fewest bytes so far. Indices into sizes.
std::vector<std::vector<std::size_t>> splitBySize(const std::vector<std::uintmax_t>& sizes, std::size_t groups);

class ParallelDelivery : public ObjectDelivery {
 public:
  explicit ParallelDelivery(std::vector<std::unique_ptr<ObjectDelivery>> lanes);
  SendReport deliver(const std::vector<std::filesystem::path>& files,
                     const std::set<std::string>& known_refused) override;
  std::string peerDescription() const override;

 private:
  void sendAgainOnOneLane(const std::vector<std::filesystem::path>& files, const std::set<std::string>& known_refused,
                          SendReport& merged);

  std::vector<std::unique_ptr<ObjectDelivery>> lanes_;
};

}  // namespace volnode
