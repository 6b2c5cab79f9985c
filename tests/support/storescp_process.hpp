#pragma once
// DCMTK's storescp as a destination PACS for tests: on a free loopback port, AE title
// PACS, each object it receives kept as a file of its own under dir/received (an
// object received twice is two files); stopped by its pid when destroyed.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace volnode::test {

class StorescpProcess {
 public:
  explicit StorescpProcess(const std::filesystem::path& dir);  // throws when it does not listen
  ~StorescpProcess();
  StorescpProcess(const StorescpProcess&) = delete;
  StorescpProcess& operator=(const StorescpProcess&) = delete;

  int port() const { return port_; }
  std::filesystem::path received() const { return dir_ / "received"; }
  size_t files() const;  // objects received so far
  // A node's settings for a destination named `name` that is this storescp.
  std::vector<std::string> destinationSettings(const std::string& name = "pacs") const;

 private:
  std::filesystem::path dir_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace volnode::test
