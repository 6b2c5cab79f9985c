#pragma once
// The voxel grid that is actually rendered, prepared in plain C++ from a
// volume: cropped to the box that holds visible voxels, downsampled where
// voxels are finer than the output pixels, and flipped along k where the
// volume's grid is mirrored, so a render never depends on slice order.
#include <array>
#include <cstdint>
#include <vector>

#include "volnode/render/view_geometry.hpp"
#include "volnode/volume/volume.hpp"

namespace volnode::render {

// How a grid is derived from its volume. Two equal plans give the same grid,
// so a plan is the key of the grid a renderer has uploaded.
struct GridPlan {
  std::array<int, 3> factors{1, 1, 1};  // downsampling factor per axis, 1..4
  std::array<int, 3> lo{}, hi{};        // source index box kept (inclusive), aligned to the factors
  bool max_pooling = false;             // downsample by maximum (MIP) rather than mean; false when not downsampling
  bool flip_k = false;                  // det(direction) < 0: k runs backwards in the grid

  bool downsampled() const { return factors != std::array<int, 3>{1, 1, 1}; }
  bool cropped(const Volume& volume) const;
  bool operator==(const GridPlan& other) const;
  bool operator!=(const GridPlan& other) const { return !(*this == other); }
};

// The plan for rendering `volume` at `pixel_mm` millimetres per output pixel.
// Along each axis the factor is floor(downsample_ratio * pixel_mm / spacing),
// clamped to 1..4 (downsample_ratio 0: no downsampling). The crop box is the
// visible index box plus a margin of two rendered voxels for interpolation and
// gradients; it is dropped (whole grid) when it would keep over 90 % of the
// voxels, so an uncropped grid can share the volume's voxels.
GridPlan planGrid(const Volume& volume, const std::array<int, 3>& visible_lo, const std::array<int, 3>& visible_hi,
                  double pixel_mm, double downsample_ratio, bool max_pooling);

// A grid with its geometry: voxel (I, J, K) lies at origin + direction *
// (I, J, K) * spacing in LPS millimetres; `data` is i-fastest.
struct RenderGrid {
  std::array<int, 3> dims{};
  Vec3 spacing{}, origin{};
  std::array<double, 9> direction{};  // row-major, columns are the LPS directions of I, J, K
  std::vector<int16_t> own;           // empty when sharing the source voxels
  const int16_t* data = nullptr;      // `own`, or the volume's voxels (keep the volume alive and unchanged)

  RenderGrid() = default;
  RenderGrid(const RenderGrid&) = delete;  // `data` may point into `own`
  RenderGrid& operator=(const RenderGrid&) = delete;
  RenderGrid(RenderGrid&&) noexcept = default;  // moving a vector keeps its buffer
  RenderGrid& operator=(RenderGrid&&) noexcept = default;
};

// Builds the grid a plan describes. A grid voxel is the mean (or maximum) of
// the f0 x f1 x f2 source voxels it covers, centred on their centre. Shares the
// volume's voxels when the plan neither crops, downsamples nor flips.
RenderGrid buildGrid(const Volume& volume, const GridPlan& plan);

}  // namespace volnode::render
