#include "volnode/dicomweb/stow_client.hpp"

#include <fmt/format.h>

#include <map>

#include "http_endpoint.hpp"
#include "volnode/dicomweb/multipart_body.hpp"
#include "volnode/core/error.hpp"
#include "volnode/dicom/dicom_file.hpp"
#include "volnode/dicom/tags.hpp"
#include "volnode/dicomweb/stow_response.hpp"

namespace volnode::dicomweb {
namespace {

constexpr std::size_t kChunkBytes = 64 * 1024;

struct PendingFile {
  std::size_t index;           // in the report
  std::string study_uid;
  std::uint64_t bytes = 0;
};

// Fills in a file's outcome from the STOW-RS response of its batch.
void applyResponse(const StowResponse& response, int http_status, StowFileResult& file) {
  auto found = response.instances.find(file.sop_instance_uid);
  if (found == response.instances.end()) {
    file.outcome = StowOutcome::Failed;
    file.text = "HTTP " + std::to_string(http_status) + ": the STOW-RS response does not mention this instance";
    return;
  }
  const StowInstanceStatus& status = found->second;
  file.has_reason = status.reason.has_value();
  file.reason = status.reason.value_or(0);
  if (status.failed) {
    file.outcome = StowOutcome::Failed;
    file.text = status.reason ? "refused (STOW-RS FailureReason)" : "refused (STOW-RS FailedSOPSequence, no FailureReason)";
  } else if (status.reason) {
    file.outcome = StowOutcome::Warning;
    file.text = "stored with a STOW-RS WarningReason";
  } else {
    file.outcome = StowOutcome::Stored;
    file.text.clear();
  }
}

}  // namespace

void checkDicomWebSettings(const Destination& d) {
  if (d.type != DestinationType::DicomWeb) return;
  const std::string key = d.section + "." + d.name;
  BaseUrl base = parseBaseUrl(d.url, key + ".url");
  makeClient(d, base, key);  // reads the secret and CA files
}

StowClient::StowClient(Destination destination, StowSettings settings)
    : destination_(std::move(destination)), settings_(settings) {}

StowReport StowClient::store(const std::vector<std::filesystem::path>& files,
                             const std::set<std::string>& known_refused) const {
  StowReport report;
  report.files.resize(files.size());
  // What each file is, from its header (never its pixel data), and which go out.
  std::map<std::string, std::vector<PendingFile>> by_study;  // one STOW-RS request path per study
  std::set<std::string> accepted(destination_.sop_classes.begin(), destination_.sop_classes.end());
  for (std::size_t i = 0; i < files.size(); ++i) {
    StowFileResult& result = report.files[i];
    result.path = files[i].string();
    PendingFile pending{i, "", 0};
    try {
      auto file = dicom::DicomFile::open(files[i], dicom::DicomFile::Extent::UpToPixelData);
      auto dataset = file.dataset();
      result.sop_class_uid = dataset.string(dicom::tags::SOPClassUID);
      result.sop_instance_uid = dataset.string(dicom::tags::SOPInstanceUID);
      pending.study_uid = dataset.string(dicom::tags::StudyInstanceUID);
      pending.bytes = std::filesystem::file_size(files[i]);
    } catch (const std::exception& e) {
      result.text = std::string("cannot read the file: ") + e.what();
      continue;
    }
    if (result.sop_instance_uid.empty() || pending.study_uid.empty()) {
      result.text = "the file has no SOP Instance UID or Study Instance UID";
      continue;
    }
    if (known_refused.count(result.sop_class_uid) || (!accepted.empty() && !accepted.count(result.sop_class_uid))) {
      result.outcome = StowOutcome::NotAccepted;
      result.text = "SOP class " + result.sop_class_uid + " is not accepted by this destination";
      continue;
    }
    by_study[pending.study_uid].push_back(pending);
  }

  BaseUrl base = parseBaseUrl(destination_.url, "destinations." + destination_.name + ".url");
  std::unique_ptr<httplib::ClientImpl> client;
  try {
    client = makeClient(destination_, base);
  } catch (const Error& e) {
    report.request_error = e.what();
  }

  auto fail_batch = [&](const std::vector<PendingFile>& batch, const std::string& why) {
    for (const auto& p : batch) {
      report.files[p.index].outcome = StowOutcome::Failed;
      report.files[p.index].text = why;
    }
  };
  for (const auto& [study, pending] : by_study) {
    std::size_t next = 0;
    while (next < pending.size()) {
      std::vector<PendingFile> batch;
      std::uint64_t bytes = 0;
      while (next < pending.size() && batch.size() < settings_.max_batch_files &&
             (batch.empty() || bytes + pending[next].bytes <= settings_.max_batch_bytes)) {
        bytes += pending[next].bytes;
        batch.push_back(pending[next++]);
      }
      // After a request failed as a whole, the rest waits for the caller's next attempt.
      if (!report.request_error.empty()) {
        fail_batch(batch, report.request_error);
        continue;
      }
      std::vector<std::filesystem::path> paths;
      for (const auto& p : batch) paths.emplace_back(report.files[p.index].path);
      MultipartBody body(paths);
      std::string chunk;
      bool read_failed = false;
      httplib::Headers headers{{"Accept", "application/dicom+json"}};
      auto result = client->Post(
          base.path + "/studies/" + study, headers, static_cast<size_t>(body.size()),
          [&](size_t offset, size_t length, httplib::DataSink& sink) {
            if (!body.read(offset, std::min(length, kChunkBytes), chunk)) {
              read_failed = true;
              return false;
            }
            return sink.write(chunk.data(), chunk.size());
          },
          body.contentType());
      if (!result) {
        report.request_error = read_failed ? "a file could not be read while sending (changed or removed?)"
                                           : describeTransportError(result.error());
        fail_batch(batch, report.request_error);
        continue;
      }
      int status = result->status;
      auto parsed = parseStowResponse(result->body, result->get_header_value("Content-Type"));
      bool per_instance = parsed && (status == 200 || status == 202 || status == 400 || status == 409);
      if (per_instance) {
        for (const auto& p : batch) applyResponse(*parsed, status, report.files[p.index]);
        continue;
      }
      if (status == 200 || status == 204) {  // success without a response body: all stored
        for (const auto& p : batch) report.files[p.index].outcome = StowOutcome::Stored;
        continue;
      }
      report.http_status = status;
      report.request_error = describeHttpStatus(status, destination_.name);
      fail_batch(batch, report.request_error);
    }
  }
  return report;
}

ProbeResult StowClient::probe() const {
  ProbeResult probe;
  try {
    BaseUrl base = parseBaseUrl(destination_.url, "destinations." + destination_.name + ".url");
    auto client = makeClient(destination_, base);
    auto result = client->Get(base.path + "/studies?limit=1", httplib::Headers{{"Accept", "application/dicom+json"}});
    if (!result) {
      probe.error = describeTransportError(result.error());
      return probe;
    }
    probe.http_status = result->status;
    probe.ok = result->status == 200 || result->status == 204;
    if (!probe.ok) probe.error = describeHttpStatus(result->status, destination_.name);
  } catch (const Error& e) {
    probe.error = e.what();
  }
  return probe;
}

}  // namespace volnode::dicomweb
