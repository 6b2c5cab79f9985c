#include "volnode/workflow/retrieve_client.hpp"

namespace volnode {
namespace {

class DicomRetrieveClient : public RetrieveClient {
 public:
  explicit DicomRetrieveClient(const std::string& calling_aet) : scu_(settingsFor(calling_aet)) {}

  std::vector<RemoteSeries> findSeries(const Destination& peer, const std::string& study_uid) override {
    return scu_.findSeries(peer, study_uid);
  }
  std::optional<RemoteSeries> findSeriesByUid(const Destination& peer, const std::string& series_uid) override {
    return scu_.findSeriesByUid(peer, series_uid);
  }
  MoveResult move(const Destination& peer, const std::string& study_uid, const std::string& series_uid,
                  const std::string& move_destination_aet, const RetrieveProgress&) override {
    return series_uid.empty() ? scu_.moveStudy(peer, study_uid, move_destination_aet)
                              : scu_.moveSeries(peer, study_uid, series_uid, move_destination_aet);
  }

 private:
  static ScuSettings settingsFor(const std::string& calling_aet) {
    ScuSettings settings;
    settings.calling_aet = calling_aet;
    return settings;
  }
  const RetrieveScu scu_;  // its calls are const: one serves every thread
};

class PerPeerTypeClient : public RetrieveClient {
 public:
  PerPeerTypeClient(std::unique_ptr<RetrieveClient> dimse, std::unique_ptr<RetrieveClient> web)
      : dimse_(std::move(dimse)), web_(std::move(web)) {}

  std::vector<RemoteSeries> findSeries(const Destination& peer, const std::string& study_uid) override {
    return of(peer).findSeries(peer, study_uid);
  }
  std::optional<RemoteSeries> findSeriesByUid(const Destination& peer, const std::string& series_uid) override {
    return of(peer).findSeriesByUid(peer, series_uid);
  }
  MoveResult move(const Destination& peer, const std::string& study_uid, const std::string& series_uid,
                  const std::string& move_destination_aet, const RetrieveProgress& progress) override {
    return of(peer).move(peer, study_uid, series_uid, move_destination_aet, progress);
  }

 private:
  RetrieveClient& of(const Destination& peer) { return peer.type == DestinationType::DicomWeb ? *web_ : *dimse_; }
  std::unique_ptr<RetrieveClient> dimse_;
  std::unique_ptr<RetrieveClient> web_;
};

}  // namespace

std::unique_ptr<RetrieveClient> retrieveClientPerPeerType(std::unique_ptr<RetrieveClient> dimse,
                                                          std::unique_ptr<RetrieveClient> web) {
  return std::make_unique<PerPeerTypeClient>(std::move(dimse), std::move(web));
}

std::unique_ptr<RetrieveClient> dicomRetrieveClient(const std::string& calling_aet) {
  return std::make_unique<DicomRetrieveClient>(calling_aet);
}

}  // namespace volnode
