// Fuzzes volume assembly from a set of received files: scanSeries() (headers,
// grouping, sorting along the normal, gap/tilt analysis) and assembleSeries()
// (the same plan plus pixel decoding through GDCM into the int16 volume,
// resampling of tilt and uneven gaps).
//
// Input: 1 to 3 DICOM files separated by the 8 bytes "VNFUZZ--" (see
// fuzz/README.md). The voxel budget is kept small so one input stays cheap.
// Expected outcomes: candidates (renderable or refused with a reason), or
// volnode::Error(Io). The header promises "malformed input gives refused
// candidates, never an exception".
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <dcmtk/oflog/oflog.h>

#include "fuzz_support.hpp"
#include "volnode/core/error.hpp"
#include "volnode/volume/assembly.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace volnode;
  const auto& dir = fuzz::scratchDir("assembly");
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parts = fuzz::splitInput(input, "VNFUZZ--", 3);

  std::vector<std::filesystem::path> files;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto file = dir / ("slice" + std::to_string(i) + ".dcm");
    fuzz::writeBytes(file, parts[i]);
    files.push_back(file);
  }

  AssemblyOptions options;
  options.min_slices = 2;                // three files at most: let two make a volume
  options.max_voxels = size_t(1) << 22;  // 4 M voxels (8 MiB of int16) per candidate
  try {
    SeriesAssembly scan = scanSeries(files, options);
    for (const auto& v : scan.volumes) {
      if (v.decision == VolumeDecision::Renderable && v.reason.size() != 0) {
        std::fprintf(stderr, "renderable candidate with a refusal reason: %s\n", v.reason.c_str());
        std::abort();
      }
    }
    if (scan.renderable().empty()) return 0;
    SeriesAssembly full = assembleSeries(files, options);
    for (const auto& v : full.volumes) {
      if (!v.volume) continue;
      const auto& d = v.dimensions;
      if (d[0] <= 0 || d[1] <= 0 || d[2] <= 0) {
        std::fprintf(stderr, "volume loaded with dimensions %d x %d x %d\n", d[0], d[1], d[2]);
        std::abort();
      }
      if (v.volume->voxels.size() != v.volume->voxelCount()) {
        std::fprintf(stderr, "volume holds %zu voxels for %zu cells\n", v.volume->voxels.size(),
                     v.volume->voxelCount());
        std::abort();
      }
    }
  } catch (const Error& e) {
    if (e.code() != Errc::Io && e.code() != Errc::NotAVolume) {
      // assembly.hpp: only IO errors throw.
      std::fprintf(stderr, "unexpected volnode::Error: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
