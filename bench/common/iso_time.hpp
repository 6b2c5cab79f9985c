#pragma once
// The node's API times ("2026-11-26T13:06:40.739Z", UTC) as seconds since the epoch,
// for benchmarks that measure between events the node recorded.
#include <ctime>
#include <iomanip>
#include <sstream>
#include <string>

namespace volnode::bench {

// 0 when the text is empty or too short to be a time.
inline double isoSeconds(const std::string& iso) {
  if (iso.size() < 19) return 0;
  std::tm tm{};
  std::istringstream in(iso.substr(0, 19));
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  double s = static_cast<double>(timegm(&tm));
  if (iso.size() > 20 && iso[19] == '.') s += std::stod("0" + iso.substr(19, 4));
  return s;
}

}  // namespace volnode::bench
