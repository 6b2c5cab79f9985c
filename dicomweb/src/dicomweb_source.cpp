#include "volnode/dicomweb/dicomweb_source.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "http_endpoint.hpp"
#include "volnode/core/error.hpp"
#include "volnode/dicomweb/multipart_reader.hpp"

namespace volnode::dicomweb {
namespace {

// As stored (no transcoding); a server that cannot offer that answers 406 and is
// asked again for its default, Explicit VR Little Endian (PS3.18 8.7.3.5.2).
const char kAcceptAsStored[] = "multipart/related; type=\"application/dicom\"; transfer-syntax=*";
const char kAcceptDefault[] = "multipart/related; type=\"application/dicom\"";

// A UID goes into a URL path: digits and dots only, as PS3.5 9.1 allows.
void checkUid(const std::string& uid, const char* what) {
  if (uid.empty() || uid.size() > 64 || uid.find_first_not_of("0123456789.") != std::string::npos)
    throw Error(Errc::InvalidArgument, std::string("not a valid ") + what + " UID: \"" + uid.substr(0, 80) + "\"");
}

std::string firstString(const nlohmann::json& dataset, const char* tag) {
  auto element = dataset.find(tag);
  if (element == dataset.end() || !element->is_object()) return "";
  auto value = element->find("Value");
  if (value == element->end() || !value->is_array() || value->empty()) return "";
  const auto& first = (*value)[0];
  if (first.is_string()) return first.get<std::string>();
  if (first.is_number_integer()) return std::to_string(first.get<long long>());
  return "";
}

std::optional<int> firstInt(const nlohmann::json& dataset, const char* tag) {
  const std::string text = firstString(dataset, tag);
  try {
    if (!text.empty()) return std::stoi(text);
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// Writes each application/dicom part to the next file of `into`.
class PartsToFiles : public PartHandler {
 public:
  PartsToFiles(RetrievedInstances& into, WadoReport& report) : into_(into), report_(report) {}
  ~PartsToFiles() override {
    if (open_) into_.discard();
  }

  void beginPart(const std::map<std::string, std::string>& headers) override {
    auto type = headers.find("content-type");
    const std::string media = type == headers.end() ? "" : type->second.substr(0, type->second.find(';'));
    if (media.find("application/dicom") != 0 || media.size() != 17)
      throw Error(Errc::InvalidArgument, "part " + std::to_string(report_.kept + report_.not_kept + 1) +
                                             " is \"" + media + "\", not application/dicom");
    if (!into_.goOn()) {
      report_.canceled = true;
      throw Error(Errc::Network, "the retrieval was canceled");
    }
    file_.open(into_.begin(), std::ios::binary | std::ios::trunc);
    open_ = true;
    if (!file_) throw Error(Errc::Io, "cannot write a retrieved instance to the store");
  }
  void partData(const char* data, std::size_t size) override {
    file_.write(data, static_cast<std::streamsize>(size));
    report_.bytes += size;
  }
  void endPart() override {
    file_.close();
    open_ = false;
    if (file_.fail()) {
      into_.discard();
      throw Error(Errc::Io, "cannot write a retrieved instance to the store (disk full?)");
    }
    if (into_.complete())
      ++report_.kept;
    else
      ++report_.not_kept;
  }

 private:
  RetrievedInstances& into_;
  WadoReport& report_;
  std::ofstream file_;
  bool open_ = false;
};

}  // namespace

std::vector<QidoSeries> parseQidoSeries(const std::string& json_text) {
  auto answer = nlohmann::json::parse(json_text, nullptr, false);
  if (!answer.is_array()) throw Error(Errc::InvalidArgument, "the QIDO-RS answer is not a JSON array of datasets");
  std::vector<QidoSeries> out;
  for (const auto& dataset : answer) {
    if (!dataset.is_object()) continue;
    QidoSeries s;
    s.series_instance_uid = firstString(dataset, "0020000E");
    if (s.series_instance_uid.empty()) continue;
    s.study_instance_uid = firstString(dataset, "0020000D");
    s.patient_id = firstString(dataset, "00100020");
    s.modality = firstString(dataset, "00080060");
    s.series_description = firstString(dataset, "0008103E");
    s.series_number = firstInt(dataset, "00200011");
    s.number_of_instances = firstInt(dataset, "00201209");
    out.push_back(std::move(s));
  }
  return out;
}

DicomWebSource::DicomWebSource(Destination source)
    : source_(std::move(source)), config_key_(source_.section + "." + source_.name) {}

std::vector<QidoSeries> DicomWebSource::query(const std::string& path) const {
  const BaseUrl base = parseBaseUrl(source_.url, config_key_ + ".url");
  auto client = makeClient(source_, base, config_key_);
  auto result = client->Get(base.path + path, httplib::Headers{{"Accept", "application/dicom+json"}});
  if (!result)
    throw Error(Errc::Network, "QIDO-RS at " + config_key_ + ": " + describeTransportError(result.error()));
  if (result->status == 204 || result->status == 404) return {};
  if (result->status != 200)
    throw Error(Errc::Network, "QIDO-RS at " + config_key_ + ": " + describeHttpStatus(result->status, source_.name, config_key_));
  try {
    return parseQidoSeries(result->body);
  } catch (const Error& e) {
    throw Error(Errc::Network, "QIDO-RS at " + config_key_ + ": " + e.what());
  }
}

std::vector<QidoSeries> DicomWebSource::seriesOfStudy(const std::string& study_uid) const {
  checkUid(study_uid, "Study Instance");
  auto series = query("/studies/" + study_uid + "/series");
  for (auto& s : series)
    if (s.study_instance_uid.empty()) s.study_instance_uid = study_uid;
  return series;
}

std::optional<QidoSeries> DicomWebSource::seriesByUid(const std::string& series_uid) const {
  checkUid(series_uid, "Series Instance");
  for (auto& s : query("/series?SeriesInstanceUID=" + series_uid + "&includefield=0020000D&includefield=00100020"))
    if (s.series_instance_uid == series_uid && !s.study_instance_uid.empty()) return s;
  return std::nullopt;
}

WadoReport DicomWebSource::retrieve(const std::string& study_uid, const std::string& series_uid,
                                    RetrievedInstances& into) const {
  WadoReport report;
  try {
    checkUid(study_uid, "Study Instance");
    if (!series_uid.empty()) checkUid(series_uid, "Series Instance");
    const BaseUrl base = parseBaseUrl(source_.url, config_key_ + ".url");
    auto client = makeClient(source_, base, config_key_);
    const std::string path = base.path + "/studies/" + study_uid + (series_uid.empty() ? "" : "/series/" + series_uid);
    for (const char* accept : {kAcceptAsStored, kAcceptDefault}) {
      std::unique_ptr<MultipartReader> reader;
      std::unique_ptr<PartsToFiles> parts;
      std::string failure;  // from inside httplib's callbacks, which must not throw
      auto on_response = [&](const httplib::Response& response) {
        report.http_status = response.status;
        if (response.status != 200) return false;
        try {
          reader = std::make_unique<MultipartReader>(multipartBoundary(response.get_header_value("Content-Type")),
                                                     *(parts = std::make_unique<PartsToFiles>(into, report)));
        } catch (const Error& e) {
          failure = e.what();
          return false;
        }
        return true;
      };
      auto on_data = [&](const char* data, size_t size) {
        try {
          reader->feed(data, size);
          return true;
        } catch (const Error& e) {
          failure = e.what();
          return false;
        }
      };
      auto result = client->Get(path, httplib::Headers{{"Accept", accept}}, on_response, on_data);
      if (report.http_status == 406 && accept == kAcceptAsStored) continue;
      if (report.http_status == 404 || report.http_status == 204) {
        report.nothing_matched = true;
        return report;
      }
      if (report.http_status != 0 && report.http_status != 200) {
        report.error = describeHttpStatus(report.http_status, source_.name, config_key_);
      } else if (!failure.empty()) {
        report.error = failure;
      } else if (!result) {
        report.error = describeTransportError(result.error());
      } else {
        try {
          reader->finish();
        } catch (const Error& e) {
          report.error = e.what();
        }
      }
      parts.reset();  // before `reader`, which refers to it; drops a cut-off instance
      return report;
    }
  } catch (const Error& e) {
    report.error = e.what();
  }
  return report;
}

}  // namespace volnode::dicomweb
