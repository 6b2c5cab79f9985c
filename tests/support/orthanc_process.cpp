#include "support/orthanc_process.hpp"

#include <fstream>
#include <thread>

#include <httplib.h>

namespace volnode::test {

// Where Debian's orthanc-dicomweb puts the plugin.
constexpr char kDicomWebPlugin[] = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";

OrthancProcess::OrthancProcess(const std::filesystem::path& dir, std::vector<OrthancModality> modalities,
                               const std::string& extra_json, OrthancFeatures features)
    : dir_(dir), features_(std::move(features)), dicom_port_(freePort()), http_port_(freePort()) {
  while (http_port_ == dicom_port_) http_port_ = freePort();
  std::filesystem::create_directories(dir_ / "db");
  std::string modality_json;
  for (const auto& m : modalities) {
    if (!modality_json.empty()) modality_json += ",\n";
    if (m.tls)
      modality_json += "    \"" + m.name + "\": {\"AET\": \"" + m.aet + "\", \"Host\": \"" + m.host +
                       "\", \"Port\": " + std::to_string(m.port) + ", \"UseDicomTls\": true}";
    else
      modality_json += "    \"" + m.name + "\": [\"" + m.aet + "\", \"" + m.host + "\", " + std::to_string(m.port) + "]";
  }
  // Orthanc's defaults, except what a test needs: its own folders and ports,
  // loopback only, no plugins and no authentication unless asked for.
  if (features_.dicomweb && !std::filesystem::exists(kDicomWebPlugin))
    throw std::runtime_error(std::string("Orthanc's DICOMweb plugin is missing: ") + kDicomWebPlugin +
                             " (scripts/install-deps.sh --tests installs orthanc-dicomweb)");
  std::string plugins = features_.dicomweb ? std::string("[\"") + kDicomWebPlugin + "\"]" : "[]";
  bool auth = !features_.user.empty();
  std::ofstream config(dir_ / "orthanc.json");
  config << "{\n"
         << "  \"Name\": \"volnode-test-pacs\",\n"
         << "  \"StorageDirectory\": \"" << (dir_ / "db").string() << "\",\n"
         << "  \"IndexDirectory\": \"" << (dir_ / "db").string() << "\",\n"
         << "  \"HttpPort\": " << http_port_ << ",\n"
         << "  \"DicomPort\": " << dicom_port_ << ",\n"
         << "  \"DicomAet\": \"" << aet_ << "\",\n"
         << "  \"RemoteAccessAllowed\": false,\n"
         << "  \"AuthenticationEnabled\": " << (auth ? "true" : "false") << ",\n"
         << (auth ? "  \"RegisteredUsers\": {\"" + features_.user + "\": \"" + features_.password + "\"},\n" : "")
         << "  \"Plugins\": " << plugins << ",\n"
         << (features_.dicomweb ? "  \"DicomWeb\": {\"Enable\": true, \"Root\": \"/dicom-web/\"},\n" : "")

         << "  \"DicomModalities\": {\n" << modality_json << "\n  }"
         << (extra_json.empty() ? "" : ",\n  " + extra_json) << "\n}\n";
  config.close();
  start();
  if (!waitUntilReady()) {
    // The log goes with the test's temporary folder: its end is the message.
    std::ifstream log(dir_ / "orthanc.log");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    throw std::runtime_error("Orthanc did not start: ..." + text.substr(text.size() > 1500 ? text.size() - 1500 : 0));
  }
}

OrthancProcess::~OrthancProcess() { stop(); }

void OrthancProcess::start() {
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"Orthanc", (dir_ / "orthanc.json").string()}, dir_ / "orthanc.log", dir_);
}

void OrthancProcess::stop() {
  if (process_) process_->terminate(std::chrono::seconds(20));
  process_.reset();
}

bool OrthancProcess::waitUntilReady(std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_ || !process_->running()) return false;
    if (get("/system").status == 200 && waitForPort(dicom_port_, std::chrono::milliseconds(100))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

HttpResponse OrthancProcess::get(const std::string& path) const {
  httplib::Client client("127.0.0.1", http_port_);
  client.set_connection_timeout(2);
  client.set_read_timeout(60);
  if (!features_.user.empty()) client.set_basic_auth(features_.user, features_.password);
  auto result = client.Get(path.c_str());
  if (!result) return {};
  return {result->status, result->body};
}

HttpResponse OrthancProcess::post(const std::string& path, const std::string& body,
                                  const std::string& content_type) const {
  httplib::Client client("127.0.0.1", http_port_);
  client.set_connection_timeout(2);
  client.set_read_timeout(120);
  if (!features_.user.empty()) client.set_basic_auth(features_.user, features_.password);
  auto result = client.Post(path.c_str(), body, content_type.c_str());
  if (!result) return {};
  return {result->status, result->body};
}

}  // namespace volnode::test
