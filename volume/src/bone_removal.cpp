// Bone removal for CT angiography: the stages of bone_removal.hpp on one byte of
// flags per voxel (voxel_mask_ops.hpp), each stage timed.
#include "volnode/volume/bone_removal.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "body_mask.hpp"
#include "volnode/core/error.hpp"
#include "voxel_mask_ops.hpp"

namespace volnode {
namespace {

using Clock = std::chrono::steady_clock;

enum : uint8_t {
  kDense = 1,       // >= dense_hu
  kClosed = 2,      // closing of kDense
  kMarrow = 4,      // holes of kClosed accepted as marrow
  kVessel = 8,      // contrast-like voxels of vessel components
  kKeptDense = 16,  // dense voxels kept with their vessel (plaque, stent)
  kBone = 32,
  kInBody = 64,
  kProtected = 128,  // vessel voxels of vessels thicker than two voxels
};

constexpr int kChunk = 4;

int voxelsFor(double mm, double spacing) { return int(std::lround(mm / spacing)); }

// Calls fn(n, i, j, k) for every voxel, slices in parallel.
template <class Fn>
void forVoxels(const VoxelGrid& g, int threads, Fn&& fn) {
  forEachChunk(g.nz, kChunk, threads, [&](int kb, int ke) {
    for (int k = kb; k < ke; ++k)
      for (int j = 0; j < g.ny; ++j) {
        size_t n = g.index(0, j, k);
        for (int i = 0; i < g.nx; ++i, ++n) fn(n, i, j, k);
      }
  });
}

// Calls fn(n, i, j, k) for the voxels of rows that have `bit` in themselves or in a
// face-neighbouring row (the only voxels a one-voxel step from `bit` can reach);
// other rows get clear(n_begin, n_end) instead.
template <class Fn, class Clear>
void forVoxelsNear(const std::vector<uint8_t>& flags, const VoxelGrid& g, uint8_t bit, int threads, Fn&& fn,
                   Clear&& clear) {
  std::vector<uint8_t> rows(size_t(g.ny) * g.nz, 0);
  forEachChunk(g.nz, kChunk, threads, [&](int kb, int ke) {
    for (int k = kb; k < ke; ++k)
      for (int j = 0; j < g.ny; ++j) {
        const uint8_t* b = flags.data() + g.index(0, j, k);
        uint8_t any = 0;
        for (int i = 0; i < g.nx; ++i) any |= uint8_t(b[i] & bit);
        rows[size_t(k) * g.ny + j] = any != 0;
      }
  });
  auto row = [&](int j, int k) { return j >= 0 && j < g.ny && k >= 0 && k < g.nz && rows[size_t(k) * g.ny + j]; };
  forEachChunk(g.nz, kChunk, threads, [&](int kb, int ke) {
    for (int k = kb; k < ke; ++k)
      for (int j = 0; j < g.ny; ++j) {
        size_t n = g.index(0, j, k);
        if (!(row(j, k) || row(j - 1, k) || row(j + 1, k) || row(j, k - 1) || row(j, k + 1))) {
          clear(n, n + size_t(g.nx));
          continue;
        }
        for (int i = 0; i < g.nx; ++i, ++n) fn(n, i, j, k);
      }
  });
}

// Whether any 6-neighbour of voxel (i, j, k) has `bit` set.
inline bool neighbourHas(const std::vector<uint8_t>& f, const VoxelGrid& g, size_t n, int i, int j, int k, uint8_t bit) {
  const size_t row = size_t(g.nx), slice = g.sliceSize();
  return (i > 0 && (f[n - 1] & bit)) || (i + 1 < g.nx && (f[n + 1] & bit)) || (j > 0 && (f[n - row] & bit)) ||
         (j + 1 < g.ny && (f[n + row] & bit)) || (k > 0 && (f[n - slice] & bit)) ||
         (k + 1 < g.nz && (f[n + slice] & bit));
}

// Sets `bit` on voxels where scratch is non-zero (the second half of a pass that
// decided per voxel from its neighbours).
void applyScratch(std::vector<uint8_t>& flags, const std::vector<uint8_t>& scratch, const VoxelGrid& g, uint8_t bit,
                  int threads) {
  forEachChunk(g.nz, kChunk, threads, [&](int kb, int ke) {
    for (size_t n = size_t(kb) * g.sliceSize(); n < size_t(ke) * g.sliceSize(); ++n)
      if (scratch[n]) flags[n] |= bit;
  });
}

}  // namespace

std::string BoneRemoval::summary() const {
  const double n = std::max<size_t>(1, mask.size());
  char text[200];
  std::snprintf(text, sizeof text, "bone %.1f %% of voxels, outside the body %.1f %%, %zu plaque/stent voxels kept, %zu vessel voxels",
                100.0 * double(bone_voxels) / n, 100.0 * double(outside_voxels) / n, kept_dense_voxels, vessel_voxels);
  return text;
}

BoneRemoval removeBone(const Volume& ct, const BoneRemovalParams& p, unsigned threads_wanted) {
  if (ct.voxelCount() == 0 || ct.voxels.size() != ct.voxelCount())
    throw Error(Errc::InvalidArgument, "bone removal: the volume is empty or its voxels do not match its dimensions");
  if (ct.modality != "CT")
    throw Error(Errc::InvalidArgument, "bone removal: needs a CT volume (Hounsfield units), not " + ct.modality);
  const int threads = threads_wanted ? int(threads_wanted) : volumeThreads();
  const VoxelGrid g{ct.dimensions[0], ct.dimensions[1], ct.dimensions[2]};
  const std::vector<int16_t>& hu = ct.voxels;
  const double voxel_mm3 = ct.spacing[0] * ct.spacing[1] * ct.spacing[2];
  const double pixel_mm2 = ct.spacing[0] * ct.spacing[1];
  const int16_t dense = int16_t(std::clamp(p.dense_hu, -1024.0, 32767.0));
  const int16_t contrast_low = int16_t(std::clamp(p.contrast_low_hu, -1024.0, 32767.0));
  const int16_t rim_min = int16_t(std::clamp(p.rim_min_hu, -1024.0, 32767.0));

  BoneRemoval out;
  std::vector<uint8_t> flags(g.count(), 0), scratch(g.count(), 0);
  auto start = Clock::now();
  auto stage = [&](const char* name) {
    out.timings.add(name, secondsSince(start));
    start = Clock::now();
  };

  // 1. Dense voxels.
  forVoxels(g, threads, [&](size_t n, int, int, int) { flags[n] = hu[n] >= dense ? kDense : 0; });
  stage("dense");

  // 2. Closing: seals gaps in thin cortex so the marrow inside is a hole.
  const std::array<int, 3> close_radius{std::max(1, voxelsFor(p.closing_mm, ct.spacing[0])),
                                        std::max(1, voxelsFor(p.closing_mm, ct.spacing[1])),
                                        voxelsFor(p.closing_mm, ct.spacing[2])};
  boxDilate(flags, scratch, g, kDense, kClosed, close_radius, threads);
  boxErode(flags, scratch, g, kClosed, kClosed, close_radius, threads);
  forVoxels(g, threads, [&](size_t n, int, int, int) {
    if (flags[n] & kDense) flags[n] |= kClosed;  // erosion at the scan's edge never loses a dense voxel
  });
  stage("closing");

  // 3. Marrow candidates: small holes of the closed cortex whose mean is marrow-like.
  const double max_hole_voxels = p.max_marrow_hole_mm2 / pixel_mm2;
  fillSliceHoles(flags, hu, g, kClosed, kMarrow,
                 [&](size_t area, double sum) { return double(area) <= max_hole_voxels && sum >= p.marrow_min_hu * double(area); },
                 threads);
  stage("marrow");

  // 4. Vessels: contrast-like components that reach outside every marrow hole and away
  // from the bone (marrow seeps a voxel or two past a thin or partial-volume end plate;
  // a vessel runs on for centimetres). The "near bone" mask borrows the kBone bit.
  const std::array<int, 3> near_radius{std::max(1, voxelsFor(p.vessel_clearance_mm, ct.spacing[0])),
                                       std::max(1, voxelsFor(p.vessel_clearance_mm, ct.spacing[1])),
                                       std::max(1, voxelsFor(p.vessel_clearance_mm, ct.spacing[2]))};
  boxDilate(flags, scratch, g, kClosed, kBone, near_radius, threads);
  {
    auto runs = labelRuns(
        g, [&](size_t n) { return hu[n] >= contrast_low && hu[n] < dense && !(flags[n] & kClosed); }, threads);
    std::vector<uint32_t> outside_holes(runs.runs.size(), 0);  // per run
    forEachChunk(g.nz, kChunk, threads, [&](int kb, int ke) {
      for (int k = kb; k < ke; ++k)
        for (int j = 0; j < g.ny; ++j)
          for (uint32_t r = runs.rowBegin(g, j, k); r < runs.rowEnd(g, j, k); ++r) {
            const size_t row = g.index(0, j, k);
            uint32_t count = 0;
            for (int i = runs.runs[r].begin; i < runs.runs[r].end; ++i)
              count += (flags[row + size_t(i)] & (kMarrow | kBone)) ? 0 : 1;
            outside_holes[r] = count;
          }
    });
    std::vector<double> outside_mm3(runs.components, 0);
    for (size_t r = 0; r < runs.runs.size(); ++r) outside_mm3[runs.component[r]] += outside_holes[r] * voxel_mm3;
    forEachChunk(g.nz, kChunk, threads, [&](int kb, int ke) {
      for (int k = kb; k < ke; ++k)
        for (int j = 0; j < g.ny; ++j)
          for (uint32_t r = runs.rowBegin(g, j, k); r < runs.rowEnd(g, j, k); ++r) {
            if (outside_mm3[runs.component[r]] < p.vessel_min_mm3) continue;
            const size_t row = g.index(0, j, k);
            for (int i = runs.runs[r].begin; i < runs.runs[r].end; ++i) flags[row + size_t(i)] |= kVessel;
          }
    });
  }
  forVoxels(g, threads, [&](size_t n, int, int, int) { flags[n] &= uint8_t(~kBone); });
  stage("vessels");

  // 5. Plaque and stents: small dense components mostly surrounded by vessel.
  {
    auto runs = labelRuns(g, [&](size_t n) { return (flags[n] & kDense) != 0; }, threads);
    std::vector<uint32_t> surface(runs.runs.size(), 0), on_vessel(runs.runs.size(), 0), voxels(runs.runs.size(), 0);
    forEachChunk(g.nz, kChunk, threads, [&](int kb, int ke) {
      const size_t row_step = size_t(g.nx), slice = g.sliceSize();
      for (int k = kb; k < ke; ++k)
        for (int j = 0; j < g.ny; ++j)
          for (uint32_t r = runs.rowBegin(g, j, k); r < runs.rowEnd(g, j, k); ++r) {
            const size_t row = g.index(0, j, k);
            for (int i = runs.runs[r].begin; i < runs.runs[r].end; ++i) {
              const size_t n = row + size_t(i);
              const size_t next[6] = {i > 0 ? n - 1 : n,         i + 1 < g.nx ? n + 1 : n,
                                      j > 0 ? n - row_step : n,  j + 1 < g.ny ? n + row_step : n,
                                      k > 0 ? n - slice : n,     k + 1 < g.nz ? n + slice : n};
              for (size_t m : next) {
                if (m == n || (flags[m] & kDense)) continue;
                ++surface[r];
                if (flags[m] & kVessel) ++on_vessel[r];
              }
            }
            voxels[r] = uint32_t(runs.runs[r].end - runs.runs[r].begin);
          }
    });
    std::vector<double> c_surface(runs.components, 0), c_vessel(runs.components, 0), c_mm3(runs.components, 0);
    for (size_t r = 0; r < runs.runs.size(); ++r) {
      c_surface[runs.component[r]] += surface[r];
      c_vessel[runs.component[r]] += on_vessel[r];
      c_mm3[runs.component[r]] += voxels[r] * voxel_mm3;
    }
    std::vector<uint8_t> keep(runs.components, 0);
    for (uint32_t c = 0; c < runs.components; ++c)
      keep[c] = c_mm3[c] <= p.max_plaque_mm3 && c_surface[c] > 0 && c_vessel[c] >= p.plaque_vessel_contact * c_surface[c];
    forEachChunk(g.nz, kChunk, threads, [&](int kb, int ke) {
      for (int k = kb; k < ke; ++k)
        for (int j = 0; j < g.ny; ++j)
          for (uint32_t r = runs.rowBegin(g, j, k); r < runs.rowEnd(g, j, k); ++r) {
            if (!keep[runs.component[r]]) continue;
            const size_t row = g.index(0, j, k);
            for (int i = runs.runs[r].begin; i < runs.runs[r].end; ++i) flags[row + size_t(i)] |= kKeptDense;
          }
    });
  }
  stage("plaque");

  // 6. Contact: contrast-like voxels the closing added next to a vessel (or kept plaque)
  // go back to the vessel, as far as the closing reached.
  const int contact_steps = std::max({close_radius[0], close_radius[1], close_radius[2]});
  auto clearScratch = [&](size_t b, size_t e) { std::fill(scratch.begin() + long(b), scratch.begin() + long(e), 0); };
  for (int step = 0; step < contact_steps; ++step) {
    forVoxelsNear(
        flags, g, kClosed, threads,
        [&](size_t n, int i, int j, int k) {
          const uint8_t f = flags[n];
          scratch[n] = (f & kClosed) && !(f & (kDense | kVessel)) && hu[n] >= contrast_low &&
                       neighbourHas(flags, g, n, i, j, k, kVessel | kKeptDense);
        },
        clearScratch);
    applyScratch(flags, scratch, g, kVessel, threads);
  }
  // Bone: dense voxels not kept, what the closing added that is bone-like and not
  // vessel, and marrow that is not vessel.
  forVoxels(g, threads, [&](size_t n, int, int, int) {
    const uint8_t f = flags[n];
    const bool bone = ((f & kDense) && !(f & kKeptDense)) ||
                      ((f & kClosed) && !(f & kDense) && !(f & kVessel) && hu[n] >= rim_min) ||
                      ((f & kMarrow) && !(f & kVessel));
    if (bone) flags[n] |= kBone;
  });
  stage("contact");

  // 7. Rim: partial-volume edges of bone, except vessels thicker than two voxels
  // (the opening of the vessel voxels: eroded by one voxel, grown back inside the vessel).
  forVoxelsNear(flags, g, kVessel | kKeptDense, threads, [&](size_t n, int i, int j, int k) {
    const size_t row = size_t(g.nx), slice = g.sliceSize();
    auto vessel = [&](size_t m) { return (flags[m] & (kVessel | kKeptDense)) != 0; };
    scratch[n] = vessel(n) && i > 0 && i + 1 < g.nx && j > 0 && j + 1 < g.ny && k > 0 && k + 1 < g.nz &&
                 vessel(n - 1) && vessel(n + 1) && vessel(n - row) && vessel(n + row) && vessel(n - slice) &&
                 vessel(n + slice);
  }, clearScratch);
  forVoxels(g, threads, [&](size_t n, int i, int j, int k) {
    if (!(flags[n] & (kVessel | kKeptDense))) return;
    const size_t row = size_t(g.nx), slice = g.sliceSize();
    const bool core = scratch[n] || (i > 0 && scratch[n - 1]) || (i + 1 < g.nx && scratch[n + 1]) ||
                      (j > 0 && scratch[n - row]) || (j + 1 < g.ny && scratch[n + row]) ||
                      (k > 0 && scratch[n - slice]) || (k + 1 < g.nz && scratch[n + slice]);
    if (core) flags[n] |= kProtected;
  });
  const int rim_steps = std::max(1, voxelsFor(p.rim_mm, std::min({ct.spacing[0], ct.spacing[1], ct.spacing[2]})));
  for (int step = 0; step < rim_steps; ++step) {
    forVoxelsNear(
        flags, g, kBone, threads,
        [&](size_t n, int i, int j, int k) {
          const uint8_t f = flags[n];
          scratch[n] = !(f & (kBone | kProtected | kKeptDense)) && hu[n] >= rim_min &&
                       neighbourHas(flags, g, n, i, j, k, kBone);
        },
        clearScratch);
    applyScratch(flags, scratch, g, kBone, threads);
  }
  stage("rim");

  // 8. Outside the body: table, cushions.
  std::string why_not;
  const auto body = findBody(ct, int(p.body_above_hu), std::max<size_t>(1000, g.count() / 1000), threads, why_not);
  if (body) {
    forEachChunk(g.nz, kChunk, threads, [&](int kb, int ke) {
      for (int k = kb; k < ke; ++k)
        for (int j = 0; j < g.ny; ++j)
          for (const RowRun& r : body->row(j, k))
            for (int i = r.begin; i < r.end; ++i) flags[g.index(i, j, k)] |= kInBody;
    });
  } else {
    forVoxels(g, threads, [&](size_t n, int, int, int) { flags[n] |= kInBody; });  // nothing found: keep all
  }
  stage("body");

  // Apply: the mask (in scratch, then moved out) and the volume without bone.
  out.volume.dimensions = ct.dimensions;
  out.volume.spacing = ct.spacing;
  out.volume.origin = ct.origin;
  out.volume.direction = ct.direction;
  out.volume.modality = ct.modality;
  out.volume.series_instance_uid = ct.series_instance_uid;
  out.volume.frame_of_reference_uid = ct.frame_of_reference_uid;
  out.volume.corrections = ct.corrections;
  out.volume.corrections.push_back(std::string("bone removed (") + bodyRegionName(p.region) + ")");
  out.volume.voxels.resize(g.count());
  std::vector<size_t> bone_count(size_t(g.nz), 0), outside_count(size_t(g.nz), 0), kept_count(size_t(g.nz), 0),
      vessel_count(size_t(g.nz), 0);
  forEachChunk(g.nz, kChunk, threads, [&](int kb, int ke) {
    for (int k = kb; k < ke; ++k)
      for (size_t n = size_t(k) * g.sliceSize(); n < size_t(k + 1) * g.sliceSize(); ++n) {
        const uint8_t f = flags[n];
        uint8_t m = BoneRemoval::kKept;
        int16_t v = hu[n];
        if (!(f & kInBody)) {
          m = BoneRemoval::kOutsideBody;
          v = p.outside_hu;
          ++outside_count[size_t(k)];
        } else if (f & kBone) {
          m = BoneRemoval::kBone;
          v = p.removed_hu;
          ++bone_count[size_t(k)];
        }
        if (f & kKeptDense) ++kept_count[size_t(k)];
        if (f & kVessel) ++vessel_count[size_t(k)];
        scratch[n] = m;
        out.volume.voxels[n] = v;
      }
  });
  for (int k = 0; k < g.nz; ++k) {
    out.bone_voxels += bone_count[size_t(k)];
    out.outside_voxels += outside_count[size_t(k)];
    out.kept_dense_voxels += kept_count[size_t(k)];
    out.vessel_voxels += vessel_count[size_t(k)];
  }
  out.mask = std::move(scratch);
  stage("apply");
  return out;
}

}  // namespace volnode
