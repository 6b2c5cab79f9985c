#include "web_pages.hpp"

#include "auth.hpp"
#include "http_answers.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/files.hpp"
#include "volnode/core/logging.hpp"

namespace volnode::console {
namespace {

// The hashes of a page's inline <script> blocks (only the import map), so the
// Content-Security-Policy can forbid every other inline script.
std::string inlineScriptHashes(const std::string& html) {
  std::string hashes;
  size_t at = 0;
  while ((at = html.find("<script", at)) != std::string::npos) {
    size_t open_end = html.find('>', at);
    if (open_end == std::string::npos) break;
    std::string tag = html.substr(at, open_end - at);
    size_t close = html.find("</script>", open_end);
    if (close == std::string::npos) break;
    if (tag.find(" src=") == std::string::npos)
      hashes += " 'sha256-" + sha256Base64(std::string_view(html).substr(open_end + 1, close - open_end - 1)) + "'";
    at = close;
  }
  return hashes;
}

}  // namespace

WebPages::WebPages(std::filesystem::path web_root) : root_(std::move(web_root)) {}

void WebPages::answerPage(httplib::Response& res, const std::string& name) const {
  std::string html;
  try {
    html = readFile(root_ / name);
  } catch (const Error&) {
    // answered below as a missing page
  }
  if (html.empty())
    return answerHtmlMessage(res, 500, "Console pages missing",
                             "The console's web files were not found (" + name + "); check the installation.");
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; script-src 'self'" + inlineScriptHashes(html) +
                     "; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
                     "base-uri 'none'; form-action 'self'");
  res.set_content(html, "text/html; charset=utf-8");
}

void WebPages::mountStaticFiles(httplib::Server& server) const {
  auto log = moduleLogger("console");
  server.set_file_extension_and_mimetype_mapping("js", "text/javascript");
  server.set_file_extension_and_mimetype_mapping("mjs", "text/javascript");
  if (!server.set_mount_point("/assets", (root_ / "assets").string()))
    log->warn("console web files not found under {}: pages will not load", root_.string());
  if (!server.set_mount_point("/vendor/three", (root_ / "node_modules" / "three").string()))
    log->warn("three.js not installed under {} (run npm ci in console/web): the 3D model viewer is unavailable",
              (root_ / "node_modules").string());
}

}  // namespace volnode::console
