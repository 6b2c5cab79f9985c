#pragma once
// Every series of a folder, headers only: reads the folder recursively, skips
// non-DICOM files, groups files by series and plans what each series would
// assemble into (geometry and decisions, no pixels). What `volnode inspect`
// reports; the routing rule of each volume is added by the caller.
#include <cstddef>
#include <filesystem>
#include <vector>

#include "volnode/volume/assembly.hpp"

namespace volnode {

struct DirectoryScan {
  std::vector<SeriesAssembly> series;  // ordered by SeriesInstanceUID
  size_t skipped_files = 0;            // not DICOM, DICOMDIR, unreadable
};

// dir may also be a single file. options.load_voxels is ignored (never loads voxels).
// Throws volnode::Error(Errc::NotFound) when dir does not exist, Errc::Io when it cannot be listed.
DirectoryScan scanDirectory(const std::filesystem::path& dir, const AssemblyOptions& options = {});

}  // namespace volnode
