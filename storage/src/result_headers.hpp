#pragma once
// The instance attributes of the node's own results that job_outputs does not hold
// (rows, columns, bits, transfer syntax, geometry), read from their file headers with
// the reader the index uses for received files (stopping before the pixel data) and
// kept per file, so that a QIDO-RS answer opens each result once.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>

#include "volnode/storage/dicomweb_queries.hpp"
#include "volnode/storage/records.hpp"

namespace volnode {

class ResultHeaders {
 public:
  // Fills what the index leaves blank for a result; a file that cannot be read leaves
  // them blank (WADO-RS then answers 404 for it).
  void complete(QidoRow& row, const std::filesystem::path& file);

 private:
  struct Entry {
    uint64_t size = 0;  // the header read belongs to a file of this size
    std::optional<InstanceAttributes> attributes;
  };
  static constexpr size_t kMaxEntries = 20000;
  std::map<std::filesystem::path, Entry> entries_;
};

}  // namespace volnode
