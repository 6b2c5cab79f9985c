#pragma once
// The console's pages and their static files, served from the web folder
// (console/web, or an installed copy). Pages are static HTML: every value on them
// comes from the JSON API.
#include <filesystem>
#include <string>

#include <httplib.h>

namespace volnode::console {

class WebPages {
 public:
  explicit WebPages(std::filesystem::path web_root);

  // The page `name` (e.g. "dashboard.html") with a Content-Security-Policy that
  // allows its own scripts and its inline import map only.
  void answerPage(httplib::Response& res, const std::string& name) const;
  // /assets (the pages' scripts and styles) and /vendor/three (three.js from
  // node_modules: no CDN); logs what is missing.
  void mountStaticFiles(httplib::Server& server) const;

 private:
  std::filesystem::path root_;
};

}  // namespace volnode::console
