#pragma once
// A 3D volume in patient coordinates, as assembled from one DICOM series.
// Plain data, no ITK or VTK types: assembly fills it, preprocessing and
// rendering read it.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace volnode {

struct Volume {
  // Voxel grid: index i runs along columns, j along rows, k along slices; i is fastest in memory.
  std::array<int, 3> dimensions{0, 0, 0};
  // Distance between voxel centres along i, j, k in millimetres.
  std::array<double, 3> spacing{1, 1, 1};
  // Patient (LPS) position in mm of the centre of voxel (0,0,0).
  std::array<double, 3> origin{0, 0, 0};
  // 3x3 direction matrix, row-major; column c is the unit LPS direction of index axis c
  // (the same convention as ITK's GetDirection()). physical = origin + D * (index * spacing).
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};
  // Values in physical units (Hounsfield units for CT after Rescale Slope/Intercept;
  // stored values for MR), clamped to int16.
  std::vector<int16_t> voxels;

  std::string modality;            // "CT", "MR", ...
  std::string series_instance_uid;
  std::string frame_of_reference_uid;
  std::vector<std::string> corrections;  // e.g. "gantry tilt 18.5 deg resampled"

  size_t voxelCount() const { return size_t(dimensions[0]) * dimensions[1] * dimensions[2]; }
  int16_t at(int i, int j, int k) const {
    return voxels[(size_t(k) * dimensions[1] + j) * dimensions[0] + i];
  }
  // LPS position (mm) of the centre of voxel (i, j, k).
  std::array<double, 3> physicalPoint(double i, double j, double k) const {
    const double d[3] = {i * spacing[0], j * spacing[1], k * spacing[2]};
    std::array<double, 3> p{};
    for (int r = 0; r < 3; ++r)
      p[r] = origin[r] + direction[r * 3 + 0] * d[0] + direction[r * 3 + 1] * d[1] + direction[r * 3 + 2] * d[2];
    return p;
  }
};

}  // namespace volnode
