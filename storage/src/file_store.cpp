#include "volnode/storage/file_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "volnode/core/error.hpp"
#include "volnode/core/files.hpp"
#include "volnode/core/ids.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

void createDirectoryDurably(const std::filesystem::path& dir, bool sync) {
  if (std::filesystem::is_directory(dir)) return;
  createDirectoryDurably(dir.parent_path(), sync);
  std::error_code ec;
  if (!std::filesystem::create_directory(dir, ec) && ec)
    throw Error(Errc::Io, "cannot create directory " + dir.string() + ": " + ec.message());
  if (sync) syncDirectory(dir.parent_path());
}

}  // namespace

FileStore::FileStore(std::filesystem::path root, bool sync, SlotLedger& ledger, int batch_size)
    : root_(std::move(root)), sync_(sync), ledger_(ledger), batch_size_(batch_size) {
  createDirectoryDurably(root_, sync_);
}

// One batch shares a shard folder, so a single directory fsync makes all of its
// entries durable. Shards are <aa>/<bb> of a random batch id: 65536 folders.
void FileStore::createBatch() {
  std::string batch = newUuid();
  std::string shard = batch.substr(0, 2) + "/" + batch.substr(2, 2);
  auto dir = root_ / shard;
  createDirectoryDurably(dir, sync_);
  std::vector<Reservation> created;
  std::vector<std::string> paths;
  for (int i = 0; i < batch_size_; ++i) {
    std::string relative = shard + "/" + newUuid() + ".dcm";
    paths.push_back(relative);
    created.push_back({root_ / relative, relative});
  }
  ledger_.addSlots(paths);  // remembered before the files exist: recovery can always find them
  for (const auto& slot : created) {
    int fd = ::open(slot.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
      throw Error(errno == ENOSPC ? Errc::OutOfSpace : Errc::Io,
                  "cannot create " + slot.path.string() + ": " + std::strerror(errno));
    ::close(fd);
  }
  if (sync_) syncDirectory(dir);
  free_slots_.insert(free_slots_.end(), created.begin(), created.end());
}

Reservation FileStore::reserve() {
  std::lock_guard lock(mutex_);
  if (free_slots_.empty()) createBatch();
  Reservation slot = free_slots_.front();
  free_slots_.pop_front();
  return slot;
}

void FileStore::sync(const Reservation& reservation) const {
  if (sync_) syncFile(reservation.path);
}

void FileStore::release(const Reservation& reservation) noexcept {
  std::error_code ec;
  std::filesystem::remove(reservation.path, ec);
  try {
    ledger_.removeSlot(reservation.relative_path);
  } catch (const std::exception& e) {
    // The slot stays in the ledger; the next start-up removes it.
    moduleLogger("storage")->warn("cannot forget slot {}: {}", reservation.relative_path, e.what());
  }
}

void FileStore::remove(const std::string& relative_path) const noexcept {
  std::error_code ec;
  std::filesystem::remove(absolute(relative_path), ec);
}

void FileStore::removeDurably(const std::vector<std::string>& relative_paths) const {
  std::set<std::filesystem::path> folders;
  for (const auto& relative : relative_paths) {
    remove(relative);
    folders.insert(absolute(relative).parent_path());
  }
  if (!sync_) return;
  for (const auto& folder : folders) {
    try {
      syncDirectory(folder);
    } catch (const Error& e) {
      moduleLogger("storage")->warn("{}", e.what());
    }
  }
}

StoreListing FileStore::list() const {
  StoreListing listing;
  auto isShard = [](const std::filesystem::directory_entry& entry) {
    std::error_code ec;
    return entry.is_directory(ec) && entry.path().filename().string().size() == 2;
  };
  auto children = [](const std::filesystem::path& dir) {
    std::vector<std::filesystem::directory_entry> entries;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      entries.push_back(*it);
    if (ec) throw Error(Errc::Io, "cannot list " + dir.string() + ": " + ec.message());
    return entries;
  };
  for (const auto& first : children(root_)) {
    const std::string first_name = first.path().filename().string();
    if (!isShard(first)) {
      listing.foreign.push_back(first_name);
      continue;
    }
    for (const auto& second : children(first.path())) {
      const std::string second_name = first_name + "/" + second.path().filename().string();
      if (!isShard(second)) {
        listing.foreign.push_back(second_name);
        continue;
      }
      for (const auto& file : children(second.path())) {
        const std::string relative = second_name + "/" + file.path().filename().string();
        std::error_code ec;
        if (file.is_regular_file(ec) && file.path().extension() == ".dcm")
          listing.files.push_back(relative);
        else
          listing.foreign.push_back(relative);
      }
    }
  }
  return listing;
}

}  // namespace volnode
