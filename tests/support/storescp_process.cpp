#include "support/storescp_process.hpp"

#include <chrono>
#include <stdexcept>

namespace volnode::test {

using namespace std::chrono_literals;

StorescpProcess::StorescpProcess(const std::filesystem::path& dir) : dir_(dir), port_(freePort()) {
  std::filesystem::create_directories(received());
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"storescp", "+uf", "-aet", "PACS", "-od", received().string(), std::to_string(port_)},
      dir_ / "storescp.log");
  if (!waitForPort(port_, 10000ms)) throw std::runtime_error("storescp did not listen on port " + std::to_string(port_));
}

StorescpProcess::~StorescpProcess() { process_->terminate(10s); }

size_t StorescpProcess::files() const {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(received())) n += e.is_regular_file() ? 1 : 0;
  return n;
}

std::vector<std::string> StorescpProcess::destinationSettings(const std::string& name) const {
  return {"destinations." + name + ".aet=PACS", "destinations." + name + ".host=127.0.0.1",
          "destinations." + name + ".port=" + std::to_string(port_)};
}

}  // namespace volnode::test
