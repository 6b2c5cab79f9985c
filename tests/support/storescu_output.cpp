#include "support/storescu_output.hpp"

#include <sstream>

namespace volnode::test {

std::vector<std::string> acknowledgedFiles(const std::string& output) {
  std::vector<std::string> acked;
  std::string current;
  const std::string sending = "Sending file: ";
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    auto at = line.find(sending);
    if (at != std::string::npos) {
      current = line.substr(at + sending.size());
      continue;
    }
    if (line.find("Received Store Response (Success)") != std::string::npos && !current.empty()) {
      acked.push_back(current);
      current.clear();
    }
  }
  return acked;
}

int responsesWith(const std::string& output, const std::string& word) {
  int count = 0;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);)
    if (line.find("Received Store Response (" + word) != std::string::npos) ++count;
  return count;
}

}  // namespace volnode::test
