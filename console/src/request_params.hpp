#pragma once
// Reading request parameters: each throws Error(Errc::InvalidArgument) naming the
// parameter and what it must be, which the server answers as 400.
#include <cstdint>
#include <set>
#include <string>

#include <httplib.h>

namespace volnode::console {

// The integer query parameter `name` in min..max, `fallback` when it is absent.
int intParam(const httplib::Request& req, const std::string& name, int fallback, int min, int max);
// The query parameter `name`, "" when absent, else one of `allowed`.
std::string oneOfParam(const httplib::Request& req, const std::string& name, const std::set<std::string>& allowed);
// A job id from the path: a positive integer.
int64_t jobIdOf(const std::string& text);

}  // namespace volnode::console
