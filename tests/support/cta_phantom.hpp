#pragma once
// A synthetic CT angiogram with analytic truth, for bone removal tests: a body of
// soft tissue on a table; a vertebral column (cortex 1200 HU, marrow 250 HU) with an
// aorta (400 HU) lying on it and a second artery (300..450 HU along its length)
// touching its side; a rib with a small artery crossing over it; a sternum with a
// wire loop round it; a calcified plaque (900 HU) in the aorta; a metal stent ring
// (2500 HU) in a third artery. Voxels average 2 x 2 x 2 samples (partial volume at
// every edge); the truth is what lies at the voxel's centre.
#include <cmath>
#include <cstdint>
#include <vector>

#include "volnode/volume/volume.hpp"

namespace volnode::test {

enum class CtaTruth : uint8_t { Air, Tissue, Bone, Wire, Table, Lumen, Plaque, Stent };

struct CtaStructure {
  CtaTruth truth;
  double hu;
};

// What lies at LPS point (x, y, z) mm; x, y centred on the body, z 0..90.
inline CtaStructure ctaPhantomAt(double x, double y, double z) {
  auto sq = [](double v) { return v * v; };
  // Table below the body (posterior is +y), 4 mm of air between: a core with metal rails.
  if (y >= 74 && y <= 80 && std::fabs(x) <= 70) {
    if (y >= 76 && y <= 78 && std::fabs(std::fabs(x) - 63) <= 3) return {CtaTruth::Table, 1500};
    return {CtaTruth::Table, 400};
  }
  if (sq(x / 75) + sq(y / 70) > 1) return {CtaTruth::Air, -1000};
  // Stent ring at z 40..46 in the artery at (-35, -20), radius 5 (its inner wall).
  const double stent_r = std::hypot(x + 35, y + 20);
  if (stent_r <= 5 && stent_r >= 3.5 && z >= 40 && z <= 46) return {CtaTruth::Stent, 2500};
  if (stent_r <= 5) return {CtaTruth::Lumen, 380};
  // Plaque: a sphere of 2.5 mm against the aorta's wall.
  if (sq(x - 6) + sq(y - 15) + sq(z - 45) <= sq(2.5)) return {CtaTruth::Plaque, 900};
  // Aorta: radius 9 at (0, 15), touching the vertebral column (radius 16 at (0, 40)).
  if (sq(x) + sq(y - 15) <= sq(9)) return {CtaTruth::Lumen, 400};
  // Artery of radius 4 touching the column's left side; contrast 300 .. 450 HU along z.
  if (sq(x - 20) + sq(y - 40) <= sq(4)) return {CtaTruth::Lumen, 300 + 150 * std::clamp(z / 90, 0.0, 1.0)};
  // Vertebral column z 5..85: 2 mm cortex (end plates too) round the marrow.
  const double spine_r = std::hypot(x, y - 40);
  if (spine_r <= 16 && z >= 5 && z <= 85)
    return {CtaTruth::Bone, (spine_r >= 14 || z <= 7 || z >= 83) ? 1200.0 : 250.0};
  // Rib along x (-60 .. -20) at y = 0, z = 60: elliptical section 5 x 5 mm, 1.5 mm cortex, capped.
  const double rib_r = std::hypot(y, z - 60);
  if (rib_r <= 5 && x >= -60 && x <= -20)
    return {CtaTruth::Bone, (rib_r >= 3.5 || x <= -58.5 || x >= -21.5) ? 1200.0 : 250.0};
  // Artery of radius 3 crossing over the rib (touching it from above), along y.
  if (sq(x + 40) + sq(z - 68) <= sq(3) && y >= -50 && y <= 30) return {CtaTruth::Lumen, 350};
  // Sternum: 20 x 8 mm, z 20..80, 1.5 mm cortex; a wire loop round it at z = 50.
  const double sx = std::fabs(x), sy = y + 62;
  if (sx <= 10 && std::fabs(sy) <= 4 && z >= 20 && z <= 80)
    return {CtaTruth::Bone, (sx >= 8.5 || std::fabs(sy) >= 2.5 || z <= 21.5 || z >= 78.5) ? 1200.0 : 250.0};
  if (sx <= 11.2 && std::fabs(sy) <= 5.2 && std::fabs(z - 50) <= 0.6) return {CtaTruth::Wire, 2500};
  return {CtaTruth::Tissue, 40};
}

struct CtaPhantom {
  Volume volume;
  std::vector<CtaTruth> truth;
};

// 200 x 190 x 90 voxels of 0.8 x 0.8 x 1.0 mm, axial, head first supine.
inline CtaPhantom makeCtaPhantom() {
  CtaPhantom p;
  Volume& v = p.volume;
  v.dimensions = {200, 190, 90};
  v.spacing = {0.8, 0.8, 1.0};
  v.origin = {-80, -70, 0.5};
  v.modality = "CT";
  v.series_instance_uid = "2.25.424242";
  v.frame_of_reference_uid = "2.25.434343";
  v.voxels.resize(v.voxelCount());
  p.truth.resize(v.voxelCount());
  size_t n = 0;
  for (int k = 0; k < v.dimensions[2]; ++k)
    for (int j = 0; j < v.dimensions[1]; ++j)
      for (int i = 0; i < v.dimensions[0]; ++i, ++n) {
        const auto c = v.physicalPoint(i, j, k);
        p.truth[n] = ctaPhantomAt(c[0], c[1], c[2]).truth;
        double sum = 0;
        for (double dx : {-0.25, 0.25})
          for (double dy : {-0.25, 0.25})
            for (double dz : {-0.25, 0.25})
              sum += ctaPhantomAt(c[0] + dx * v.spacing[0], c[1] + dy * v.spacing[1], c[2] + dz * v.spacing[2]).hu;
        v.voxels[n] = int16_t(std::lround(sum / 8));
      }
  return p;
}

}  // namespace volnode::test
