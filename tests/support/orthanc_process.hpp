#pragma once
// A real Orthanc (Debian's package) as the PACS in tests and benchmarks: its own
// generated configuration, storage folder and loopback ports; stopped by pid.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/node_process.hpp"
#include "support/process.hpp"

namespace volnode::test {

struct OrthancModality {
  std::string name;   // e.g. "volnode"
  std::string aet;
  std::string host = "127.0.0.1";
  int port = 0;
  bool tls = false;   // Orthanc opens its associations to it with DICOM TLS ("UseDicomTls")
};

// What a test turns on beyond Orthanc's defaults.
struct OrthancFeatures {
  bool dicomweb = false;       // load the DICOMweb plugin (Debian's orthanc-dicomweb) at /dicom-web/
  std::string user, password;  // non-empty: HTTP Basic authentication required (get/post below use it)
};

class OrthancProcess {
 public:
  // `extra_json`: more top-level configuration entries, e.g. "\"AcceptedTransferSyntaxes\": [...]".
  OrthancProcess(const std::filesystem::path& dir, std::vector<OrthancModality> modalities = {},
                 const std::string& extra_json = "", OrthancFeatures features = {});
  ~OrthancProcess();

  int dicomPort() const { return dicom_port_; }
  int httpPort() const { return http_port_; }
  const std::string& aet() const { return aet_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  void start();
  void stop();
  bool waitUntilReady(std::chrono::seconds timeout = std::chrono::seconds(60));

  HttpResponse get(const std::string& path) const;
  HttpResponse post(const std::string& path, const std::string& body, const std::string& content_type = "application/json") const;
  // The DICOMweb plugin's base URL (with features.dicomweb).
  std::string dicomWebUrl() const { return "http://127.0.0.1:" + std::to_string(http_port_) + "/dicom-web"; }

 private:
  std::filesystem::path dir_;
  OrthancFeatures features_;
  std::string aet_ = "ORTHANC";
  int dicom_port_;
  int http_port_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace volnode::test
