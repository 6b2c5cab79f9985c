#include "request_params.hpp"

#include "volnode/core/error.hpp"

namespace volnode::console {

int intParam(const httplib::Request& req, const std::string& name, int fallback, int min, int max) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  try {
    size_t used = 0;
    int value = std::stoi(text, &used);
    if (used != text.size() || value < min || value > max) throw std::out_of_range(name);
    return value;
  } catch (const std::exception&) {
    throw Error(Errc::InvalidArgument,
                "query parameter '" + name + "' must be an integer in " + std::to_string(min) + ".." + std::to_string(max));
  }
}

std::string oneOfParam(const httplib::Request& req, const std::string& name, const std::set<std::string>& allowed) {
  std::string value = req.get_param_value(name);
  if (value.empty() || allowed.count(value)) return value;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw Error(Errc::InvalidArgument, "query parameter '" + name + "' must be one of: " + list);
}

int64_t jobIdOf(const std::string& text) {
  try {
    size_t used = 0;
    long long id = std::stoll(text, &used);
    if (used == text.size() && id > 0) return id;
  } catch (const std::exception&) {
  }
  throw Error(Errc::InvalidArgument, "job id must be a positive integer");
}

}  // namespace volnode::console
