#pragma once
// Connects the DICOM listener's InstanceSink to the store and the index.
#include <functional>
#include <vector>

#include "volnode/scp/instance_sink.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/instance_store.hpp"

namespace volnode {

class StorageSink : public InstanceSink {
 public:
  // Called after an instance was kept, and when an association ended (completion signals).
  using InstanceKeptHandler =
      std::function<void(const std::string& series_uid, const std::string& study_uid, const AssociationInfo&)>;
  using AssociationEndedHandler = std::function<void(const AssociationInfo&, const AssociationStats&)>;

  StorageSink(InstanceStore& store, Index& index) : store_(store), index_(index) {}

  void onInstanceKept(InstanceKeptHandler handler) { kept_handlers_.push_back(std::move(handler)); }
  void onAssociationEnded(AssociationEndedHandler handler) { ended_handlers_.push_back(std::move(handler)); }

  bool acceptsInstances(std::string* why) override { return store_.hasSpace(why); }
  std::unique_ptr<PendingInstance> prepareInstance() override;
  int64_t associationAccepted(const AssociationInfo& association) override;
  void associationEnded(const AssociationInfo& association, const AssociationStats& stats) override;
  void associationRefused(const AssociationInfo& association, const std::string& reason) override;

 private:
  friend class StoredPendingInstance;
  InstanceStore& store_;
  Index& index_;
  std::vector<InstanceKeptHandler> kept_handlers_;
  std::vector<AssociationEndedHandler> ended_handlers_;
};

}  // namespace volnode
