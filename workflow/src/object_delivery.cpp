#include "volnode/workflow/object_delivery.hpp"

#include <fmt/format.h>

#include "parallel_delivery.hpp"
#include "volnode/dicomweb/stow_client.hpp"

namespace volnode {
namespace {

class DimseDelivery : public ObjectDelivery {
 public:
  DimseDelivery(Destination destination, std::string calling_aet)
      : destination_(std::move(destination)), calling_aet_(std::move(calling_aet)) {}

  SendReport deliver(const std::vector<std::filesystem::path>& files, const std::set<std::string>& known_refused) override {
    ScuSettings settings;
    settings.calling_aet = calling_aet_;
    return StoreScu(settings).send(destination_, files, known_refused);
  }
  std::string peerDescription() const override {
    return fmt::format("{}@{}:{}", destination_.aet, destination_.host, destination_.port);
  }

 private:
  Destination destination_;
  std::string calling_aet_;
};

class StowDelivery : public ObjectDelivery {
 public:
  explicit StowDelivery(const Destination& destination) : client_(destination), url_(destination.url) {}

  SendReport deliver(const std::vector<std::filesystem::path>& files, const std::set<std::string>& known_refused) override {
    auto stow = client_.store(files, known_refused);
    SendReport report;
    for (const auto& file : stow.files) {
      FileSendResult result;
      result.path = file.path;
      result.sop_class_uid = file.sop_class_uid;
      result.sop_instance_uid = file.sop_instance_uid;
      result.status = file.reason;
      result.has_status = file.has_reason;
      result.text = file.text;
      switch (file.outcome) {
        case dicomweb::StowOutcome::Stored: result.outcome = SendOutcome::Delivered; break;
        case dicomweb::StowOutcome::Warning: result.outcome = SendOutcome::Warning; break;
        case dicomweb::StowOutcome::Failed: result.outcome = SendOutcome::Failed; break;
        case dicomweb::StowOutcome::NotAccepted: result.outcome = SendOutcome::NotAccepted; break;
      }
      report.files.push_back(std::move(result));
    }
    if (!stow.request_error.empty()) {
      report.association = stow.http_status == 0 ? AssociationFailure::Unreachable : AssociationFailure::Failed;
      report.association_error = stow.request_error;
    }
    return report;
  }
  std::string peerDescription() const override { return url_; }

 private:
  dicomweb::StowClient client_;
  std::string url_;
};

}  // namespace

std::unique_ptr<ObjectDelivery> makeObjectDelivery(const Destination& destination, const std::string& calling_aet) {
  if (destination.type == DestinationType::DicomWeb) return std::make_unique<StowDelivery>(destination);
  if (destination.associations <= 1) return std::make_unique<DimseDelivery>(destination, calling_aet);
  std::vector<std::unique_ptr<ObjectDelivery>> lanes;
  for (int i = 0; i < destination.associations; ++i) lanes.push_back(std::make_unique<DimseDelivery>(destination, calling_aet));
  return std::make_unique<ParallelDelivery>(std::move(lanes));
}

void checkDeliverySettings(const Destination& destination) {
  if (destination.type == DestinationType::DicomWeb) {
    dicomweb::checkDicomWebSettings(destination);
    return;
  }
  checkTlsSettings(destination);
}

}  // namespace volnode
