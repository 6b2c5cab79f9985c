#pragma once
// A body-sized CT phantom as a function of LPS position (mm), shared by the
// render and end-to-end benchmarks so both time the same anatomy: soft-tissue
// body (330 x 230 mm) with a fat rim, two lungs, a spine of vertebrae with
// posterior elements, ribs, an aorta with contrast, a sternum, and +-15 HU noise.
// Centred on x = y = 0; the chest spans z = -60..140 mm.
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace volnode::bench {

inline double ctBodyPhantomHu(double x, double y, double z) {
  // Deterministic noise from the position, so every slice file is reproducible.
  uint32_t h = uint32_t(std::lround(x * 10)) * 73856093u ^ uint32_t(std::lround(y * 10)) * 19349663u ^
               uint32_t(std::lround(z * 10)) * 83492791u;
  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  const int noise = int(h % 31) - 15;
  double hu = -1000;
  const double body = (x / 165) * (x / 165) + ((y - 5) / 115) * ((y - 5) / 115);
  if (body <= 1) {
    hu = body > 0.85 ? -90 : 40;  // fat rim, soft tissue
    const double lx = (std::fabs(x) - 70) / 55, ly = (y + 5) / 75, lz = (z - 40) / 120;
    if (lx * lx + ly * ly + lz * lz <= 1) hu = -820;  // lungs
    const double ax = x - 15, ay = y - 35;
    if (ax * ax + ay * ay <= 14 * 14) hu = 280;  // aorta with contrast
    // Vertebrae: 28 mm bodies every 34 mm along z, posterior elements.
    const double vy = y - 75, vz = std::fmod(z + 1000, 34.0);
    if (x * x + vy * vy <= 19 * 19 && vz < 28) hu = (x * x + vy * vy >= 15 * 15) ? 900 : 300;
    if (std::fabs(x) < 5 && y > 92 && y < 118 && vz < 26) hu = 700;
    // Ribs: elliptical shells, 8 mm thick slabs every 25 mm in the chest.
    const double rz = std::fmod(z + 1000, 25.0);
    if (z > -60 && z < 140 && rz < 8 && body > 0.62 && body < 0.72) hu = 750;
    // Sternum.
    if (std::fabs(x) < 14 && y > -105 && y < -95 && z > -20 && z < 120) hu = 650;
  }
  return std::clamp(hu + noise, -1024.0, 3071.0);
}

}  // namespace volnode::bench
