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
                  const std::string& move_destination_aet) override {
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

}  // namespace

std::unique_ptr<RetrieveClient> dicomRetrieveClient(const std::string& calling_aet) {
  return std::make_unique<DicomRetrieveClient>(calling_aet);
}

}  // namespace volnode
