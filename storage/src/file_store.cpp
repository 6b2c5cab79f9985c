#include "volnode/storage/file_store.hpp"

#include "volnode/core/error.hpp"
#include "volnode/core/files.hpp"
#include "volnode/core/ids.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

constexpr const char* kTempSuffix = ".dcm";

// "3f2a...-..." -> "3f/2a/3f2a....dcm"
std::string shardedPath(const std::string& name) { return name.substr(0, 2) + "/" + name.substr(2, 2) + "/" + name + kTempSuffix; }

void createDirectoryDurably(const std::filesystem::path& dir, bool sync) {
  if (std::filesystem::is_directory(dir)) return;
  createDirectoryDurably(dir.parent_path(), sync);
  std::error_code ec;
  if (!std::filesystem::create_directory(dir, ec) && ec)
    throw Error(Errc::Io, "cannot create directory " + dir.string() + ": " + ec.message());
  if (sync) syncDirectory(dir.parent_path());
}

}  // namespace

FileStore::FileStore(std::filesystem::path root, bool sync) : root_(std::move(root)), sync_(sync) {
  createDirectoryDurably(tempDir(), sync_);
}

Reservation FileStore::reserve() const {
  std::string name = newUuid();
  return {tempDir() / (name + kTempSuffix), shardedPath(name)};
}

void FileStore::syncTemp(const Reservation& reservation) const {
  if (sync_) syncFile(reservation.temp_path);
}

void FileStore::publish(const Reservation& reservation) const {
  auto target = absolute(reservation.relative_path);
  createDirectoryDurably(target.parent_path(), sync_);
  std::error_code ec;
  std::filesystem::rename(reservation.temp_path, target, ec);
  if (ec) throw Error(Errc::Io, "cannot move " + reservation.temp_path.string() + " into the store: " + ec.message());
  if (sync_) syncDirectory(target.parent_path());
}

void FileStore::discard(const Reservation& reservation) const noexcept {
  std::error_code ec;
  std::filesystem::remove(reservation.temp_path, ec);
}

void FileStore::remove(const std::string& relative_path) const noexcept {
  std::error_code ec;
  std::filesystem::remove(absolute(relative_path), ec);
}

RecoveryReport FileStore::recover(const std::function<bool(const std::string&)>& is_indexed) const {
  RecoveryReport report;
  auto log = moduleLogger("storage");
  for (const auto& entry : std::filesystem::directory_iterator(tempDir())) {
    auto name = entry.path().filename().string();
    auto uuid = entry.path().stem().string();
    if (entry.path().extension() != kTempSuffix || uuid.size() < 4) {
      std::error_code ec;
      std::filesystem::remove(entry.path(), ec);
      ++report.discarded;
      continue;
    }
    Reservation r{entry.path(), shardedPath(uuid)};
    if (is_indexed(r.relative_path)) {
      publish(r);
      ++report.published;
    } else {
      discard(r);
      ++report.discarded;
    }
  }
  if (report.published || report.discarded)
    log->warn("store recovery: {} indexed file(s) moved into place, {} unacknowledged partial file(s) removed",
              report.published, report.discarded);
  return report;
}

}  // namespace volnode
