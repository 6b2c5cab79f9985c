#include "storage_sink.hpp"

#include "volnode/core/logging.hpp"

namespace volnode {

class StoredPendingInstance : public PendingInstance {
 public:
  StoredPendingInstance(StorageSink& sink, Reservation reservation)
      : sink_(sink), reservation_(std::move(reservation)) {}
  ~StoredPendingInstance() override {
    if (!kept_) sink_.store_.release(reservation_);
  }

  const std::filesystem::path& file() const override { return reservation_.path; }

  DispositionResult keep(const std::string& sop_class_uid, const std::string& sop_instance_uid,
                         const AssociationInfo& association) override {
    kept_ = true;  // from here on the store owns the file, whatever the outcome
    std::optional<int64_t> association_id;
    if (association.id > 0) association_id = association.id;
    KeepResult result = sink_.store_.keep(reservation_, sop_class_uid, sop_instance_uid, association_id);
    InstanceDisposition disposition = InstanceDisposition::Failed;
    switch (result.outcome) {
      case KeepOutcome::Stored: disposition = InstanceDisposition::Kept; break;
      case KeepOutcome::Duplicate: disposition = InstanceDisposition::Duplicate; break;
      case KeepOutcome::StoredConflict: disposition = InstanceDisposition::KeptConflict; break;
      case KeepOutcome::OutOfSpace: disposition = InstanceDisposition::OutOfSpace; break;
      case KeepOutcome::Invalid: disposition = InstanceDisposition::Invalid; break;
      case KeepOutcome::Failed: disposition = InstanceDisposition::Failed; break;
    }
    if (disposition == InstanceDisposition::Kept || disposition == InstanceDisposition::KeptConflict)
      for (const auto& handler : sink_.kept_handlers_) handler(result.series_uid, result.study_uid, association);
    return {disposition, result.reason, result.bytes};
  }

 private:
  StorageSink& sink_;
  Reservation reservation_;
  bool kept_ = false;
};

std::unique_ptr<PendingInstance> StorageSink::prepareInstance() {
  return std::make_unique<StoredPendingInstance>(*this, store_.reserve());
}

int64_t StorageSink::associationAccepted(const AssociationInfo& association) {
  return index_.beginAssociation(association.calling_aet, association.called_aet, association.peer_host);
}

void StorageSink::associationEnded(const AssociationInfo& association, const AssociationStats& stats) {
  if (association.id > 0)
    index_.endAssociation(association.id, stats.instances, stats.bytes, stats.failures, stats.outcome);
  for (const auto& handler : ended_handlers_) handler(association, stats);
}

void StorageSink::associationRefused(const AssociationInfo& association, const std::string& reason) {
  int64_t id = index_.beginAssociation(association.calling_aet, association.called_aet, association.peer_host);
  index_.endAssociation(id, 0, 0, 0, "refused: " + reason);
}

}  // namespace volnode
