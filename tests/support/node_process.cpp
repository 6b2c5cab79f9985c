#include "support/node_process.hpp"

#include <algorithm>

#include <fstream>
#include <sstream>
#include <thread>

#include <httplib.h>

#include "support/suite_index.hpp"

namespace volnode::test {

std::filesystem::path presetsWithoutRules(const std::filesystem::path& dir) {
  auto presets = dir / "presets-without-rules";
  std::filesystem::create_directories(presets / "rules");
  std::ofstream(presets / "rules" / "none.json") << R"({"schema": 1, "rules": []})";
  return presets;
}

std::string noRendering(const std::filesystem::path& dir) {
  return "pipeline.presets_dir=" + presetsWithoutRules(dir).string();
}

std::vector<std::string> withSuiteIndex(const std::filesystem::path& storage_dir, std::vector<std::string> overrides) {
  for (const auto& o : overrides)
    if (o.rfind("index.", 0) == 0) return overrides;  // the test chose the index itself
  auto index = suiteIndexOverrides(storage_dir);
  index.insert(index.end(), overrides.begin(), overrides.end());
  return index;
}

NodeProcess::NodeProcess(const std::filesystem::path& dir, std::vector<std::string> overrides, bool wait_until_ready)
    : dir_(dir), overrides_(std::move(overrides)), dicom_port_(freePort()), console_port_(freePort()) {
  while (console_port_ == dicom_port_) console_port_ = freePort();
  // Reads carry the console token when the node has one (console.read_requires_token).
  for (const auto& o : overrides_)
    if (o.rfind("console.token=", 0) == 0) read_token_ = o.substr(14);
  read_token_.erase(std::remove(read_token_.begin(), read_token_.end(), '"'), read_token_.end());
  std::filesystem::create_directories(dir_);
  start();
  if (wait_until_ready && !waitUntilReady())
    throw std::runtime_error("volnode did not become ready; log:\n" + log());
}

NodeProcess::~NodeProcess() {
  if (process_) process_->terminate(std::chrono::seconds(20));
}

void NodeProcess::start() {
  std::vector<std::string> argv{VOLNODE_BINARY,
                                "serve",
                                "--set",
                                "dicom.port=" + std::to_string(dicom_port_),
                                "--set",
                                "console.port=" + std::to_string(console_port_),
                                "--set",
                                "storage.dir=" + (dir_ / "var").string(),
                                "--set",
                                "storage.min_free_mb=1",
                                "--set",
                                "log.file=" + (dir_ / "var" / "volnode.log").string(),
                                "--set",
                                std::string("pipeline.presets_dir=") + VOLNODE_SOURCE_DIR + "/presets"};
  for (const auto& o : withSuiteIndex(dir_ / "var", overrides_)) {
    argv.push_back("--set");
    argv.push_back(o);
  }
  process_ = std::make_unique<ChildProcess>(argv, logFile(), dir_);
}

int NodeProcess::stop() { return process_ ? process_->terminate() : 0; }

void NodeProcess::kill9() {
  if (process_) process_->kill9();
}

bool NodeProcess::waitUntilReady(std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running()) return false;
    if (get("/api/health").status == 200) return true;  // the DICOM listener starts before the console
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string NodeProcess::log() const {
  std::ifstream in(logFile());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

HttpResponse NodeProcess::get(const std::string& path) const {
  httplib::Client client("127.0.0.1", console_port_);
  client.set_connection_timeout(2);
  client.set_read_timeout(30);
  httplib::Headers headers;
  if (!read_token_.empty()) headers.emplace("Authorization", "Bearer " + read_token_);
  auto result = client.Get(path.c_str(), headers);
  if (!result) return {};
  return {result->status, result->body};
}

HttpResponse NodeProcess::post(const std::string& path, const std::string& body, const std::string& token) const {
  httplib::Client client("127.0.0.1", console_port_);
  client.set_connection_timeout(2);
  client.set_read_timeout(30);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  auto result = client.Post(path.c_str(), headers, body, "application/json");
  if (!result) return {};
  return {result->status, result->body};
}

std::vector<std::string> NodeProcess::scu(const std::string& tool, std::vector<std::string> extra) const {
  std::vector<std::string> argv{tool, "-aec", "VOLNODE"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("127.0.0.1");
  argv.push_back(std::to_string(dicom_port_));
  return argv;
}

}  // namespace volnode::test
