#pragma once
// Wall-clock helpers. Times in the index are UTC ISO 8601 with milliseconds.
#include <chrono>
#include <string>

namespace volnode {

using SystemTime = std::chrono::system_clock::time_point;

// "2026-11-26T12:34:56.789Z"
std::string isoUtc(SystemTime time);
std::string isoUtcNow();

// Seconds since the Unix epoch, with fractions (what SQLite stores as REAL).
double unixSeconds(SystemTime time);
double unixSecondsNow();

}  // namespace volnode
