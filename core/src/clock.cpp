#include "volnode/core/clock.hpp"

#include <ctime>

#include <fmt/format.h>

namespace volnode {

std::string isoUtc(SystemTime time) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  std::time_t t = seconds.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                     utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
}

std::string isoUtcNow() { return isoUtc(std::chrono::system_clock::now()); }

double unixSeconds(SystemTime time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

double unixSecondsNow() { return unixSeconds(std::chrono::system_clock::now()); }

}  // namespace volnode
