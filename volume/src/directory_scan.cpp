#include "volnode/volume/directory_scan.hpp"

#include <algorithm>
#include <map>

#include "plan.hpp"
#include "volnode/core/error.hpp"

namespace volnode {

DirectoryScan scanDirectory(const std::filesystem::path& dir, const AssemblyOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw Error(Errc::NotFound, dir.string() + ": no such file or directory");
  DirectoryScan out;

  std::vector<fs::path> files;
  if (fs::is_regular_file(dir, ec)) {
    files.push_back(dir);
  } else {
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
    if (ec) throw Error(Errc::Io, dir.string() + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) throw Error(Errc::Io, dir.string() + ": " + ec.message());
      std::error_code fec;
      if (it->is_regular_file(fec)) files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end());

  std::map<std::string, std::vector<detail::FileHeader>> by_series;
  for (const auto& f : files) {
    auto h = detail::readHeader(f);
    if (!h) {
      ++out.skipped_files;
      continue;
    }
    by_series[h->info.series_instance_uid].push_back(std::move(*h));
  }

  AssemblyOptions o = options;
  o.load_voxels = false;
  for (auto& [uid, headers] : by_series) {
    SeriesAssembly a = detail::assembleFromHeaders(headers, 0, o, nullptr);
    detail::finish(a);
    out.series.push_back(std::move(a));
  }
  return out;
}

}  // namespace volnode
