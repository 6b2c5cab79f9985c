#pragma once
// Multiplanar reformats and thick-slab projections of a volume, in true patient
// planes (whatever the acquisition: oblique, gantry-tilted, head or feet first):
//
//   axial     rows along L (+x), columns towards P (+y); slices from feet to head
//   coronal   rows along L (+x), columns towards F (-z); slices from anterior to posterior
//   sagittal  rows along P (+y), columns towards F (-z); slices from left to right
//
// Oblique planes are one of these turned by two angles, as a technologist angles a
// plane on the console: first `tilt_deg` about the image's horizontal axis (its row
// direction: L for axial and coronal, P for sagittal), then `turn_deg` about the
// image's (tilted) vertical axis (its column direction), each right-handed about
// that direction. Coronal tilted +20: rows still along L, the image's top edge leans
// anterior (normal (0, cos 20, sin 20)). Rows and columns stay exactly orthonormal.
//
// The grid covers the volume's bounding box in that plane; slice centres are
// `spacing_mm` apart along the plane normal (row x column), centred on the box.
// Each output pixel combines the volume, trilinearly interpolated, over a slab of
// `thickness_mm` around its plane: the mean (MPR) or the maximum (MIP). Samples
// outside the volume are ignored; a pixel without any sample gets the fill value.
#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "volnode/core/plane_image.hpp"
#include "volnode/volume/volume.hpp"

namespace volnode {

enum class ReformatPlane { Axial, Coronal, Sagittal };
enum class SlabMode { Average, Maximum };

// "axial" | "coronal" | "sagittal"; "average" | "mip". Throw Error(InvalidArgument) for anything else.
ReformatPlane parseReformatPlane(const std::string& text);
SlabMode parseSlabMode(const std::string& text);
const char* reformatPlaneName(ReformatPlane plane) noexcept;
const char* slabModeName(SlabMode mode) noexcept;

struct ReformatSpec {
  ReformatPlane plane = ReformatPlane::Coronal;
  SlabMode mode = SlabMode::Average;
  double thickness_mm = 3;  // slab thickness; 0: a single plane
  double spacing_mm = 3;    // distance between slice centres (> 0)
  double tilt_deg = 0;      // oblique: about the row direction, [-90, 90]
  double turn_deg = 0;      // oblique: then about the column direction, [-90, 90]
  // In-plane pixel size; 0: the finest spacing of the volume, enlarged where needed
  // to keep the matrix within max_matrix.
  double pixel_spacing_mm = 0;
  int max_matrix = 1024;
  int max_slices = 2000;  // a larger stack is refused (Error(InvalidArgument))
};

// True when the spec's angles make the plane oblique.
bool isOblique(const ReformatSpec& spec) noexcept;

// Row and column directions (LPS unit vectors) of the spec's plane, angles applied.
std::pair<std::array<double, 3>, std::array<double, 3>> reformatAxes(const ReformatSpec& spec);

// The planes of a reformat, without resampling anything (for planning: slice count,
// geometry). Throws Error(InvalidArgument) for an empty volume or a bad spec.
std::vector<PlaneGeometry> reformatPlanes(const Volume& volume, const ReformatSpec& spec);

// The volume's slices (index k, along its third axis) whose voxels one plane of the
// reformat reads: every slice within one slice of the plane's slab (interpolation
// reads the neighbour on each side). {first, last}, inclusive; first > last when the
// slab misses the volume. A coronal or sagittal plane of an axial stack reads all of
// them; an axial slab a few.
std::pair<int, int> reformatSourceSlices(const Volume& volume, const ReformatSpec& spec, const PlaneGeometry& plane);

// The reformatted images, one per plane of reformatPlanes(). fill_value: for pixels
// outside the volume (e.g. -1024 for CT). Uses up to `threads` threads (0: all cores).
std::vector<PlaneImage> reformatVolume(const Volume& volume, const ReformatSpec& spec, int16_t fill_value,
                                       unsigned threads = 0);

// The same images a few at a time, in order, on the caller's thread: for a writer that
// writes each slice as it comes (memory for one group of slices, reused, instead of the
// whole stack). The volume must outlive this. Throws what reformatPlanes() throws.
class ReformatSlices {
 public:
  ReformatSlices(const Volume& volume, const ReformatSpec& spec, int16_t fill_value);
  ~ReformatSlices();
  ReformatSlices(const ReformatSlices&) = delete;
  ReformatSlices& operator=(const ReformatSlices&) = delete;

  size_t size() const;  // slices in all, one per plane of reformatPlanes()
  // The next slices (up to 8), valid until the next call; empty after the last.
  const std::vector<PlaneImage>& next();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace volnode
