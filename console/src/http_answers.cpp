#include "http_answers.hpp"

#include <algorithm>
#include <fstream>
#include <memory>

namespace volnode::console {
namespace {

std::string htmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

void answerJson(httplib::Response& res, const nlohmann::json& body, int status) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  // error_handler_t::replace: text from DICOM data that is not valid UTF-8 never breaks a response.
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void answerError(httplib::Response& res, int status, const std::string& message, const nlohmann::json& details) {
  nlohmann::json body = details.is_object() ? details : nlohmann::json::object();
  body["error"] = message;
  body["status"] = status;
  answerJson(res, body, status);
}

void answerHtmlMessage(httplib::Response& res, int status, const std::string& title, const std::string& message) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_header("Content-Security-Policy", "default-src 'none'; style-src 'self'");
  res.set_content("<!doctype html><html><head><meta charset=\"utf-8\"><title>volnode: " + htmlEscape(title) +
                      "</title><link rel=\"stylesheet\" href=\"/assets/console.css\"></head><body><main><h1>" +
                      htmlEscape(title) + "</h1><p>" + htmlEscape(message) + "</p><p><a href=\"/\">Dashboard</a></p>"
                      "</main></body></html>",
                  "text/html; charset=utf-8");
}

void answerFile(httplib::Response& res, const std::filesystem::path& path, const std::string& content_type,
                const std::string& download_name) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || !std::filesystem::is_regular_file(path, ec)) return answerError(res, 404, "result file is not on disk");
  auto in = std::make_shared<std::ifstream>(path, std::ios::binary);
  if (!*in) return answerError(res, 404, "result file cannot be read");
  res.status = 200;
  res.set_header("Cache-Control", "private, max-age=60");
  if (!download_name.empty()) res.set_header("Content-Disposition", "attachment; filename=\"" + download_name + "\"");
  res.set_content_provider(static_cast<size_t>(size), content_type,
                           [in](size_t offset, size_t length, httplib::DataSink& sink) {
                             char buffer[64 * 1024];
                             in->seekg(static_cast<std::streamoff>(offset));
                             size_t n = std::min(length, sizeof buffer);
                             in->read(buffer, static_cast<std::streamsize>(n));
                             auto got = static_cast<size_t>(in->gcount());
                             if (got == 0) return false;
                             return sink.write(buffer, got);
                           });
}

}  // namespace volnode::console
