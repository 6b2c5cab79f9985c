// CPU maximum intensity projection by voxel splatting (see mip_splat.hpp).
#include "volnode/render/mip_splat.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <thread>

namespace volnode::render {
namespace {

// Runs work(t, image) for t in [0, threads), each on a thread of its own with
// an image of its own (npix values, INT16_MIN where nothing was written), and
// returns their per-pixel maximum.
template <class Work>
std::vector<int16_t> maxOverThreads(int threads, size_t npix, const Work& work) {
  std::vector<std::vector<int16_t>> partial(size_t(threads), std::vector<int16_t>(npix, INT16_MIN));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back([&, t] { work(t, partial[size_t(t)].data()); });
  work(0, partial[0].data());
  for (auto& th : pool) th.join();
  for (int t = 1; t < threads; ++t)
    for (size_t p = 0; p < npix; ++p) partial[0][p] = std::max(partial[0][p], partial[size_t(t)][p]);
  return std::move(partial[0]);
}

}  // namespace

std::vector<int16_t> splatMip(const RenderGrid& g, const ViewBasis& b, const Vec3& centre, double scale, int width,
                              int height, int16_t lo, int threads) {
  const double px = 2 * scale / height;  // mm per pixel
  const Vec3 r = b.right();
  Vec3 col[3];
  for (int c = 0; c < 3; ++c) col[c] = {g.direction[c], g.direction[3 + c], g.direction[6 + c]};
  double du[3], dv[3], hx = 0, hy = 0;
  for (int c = 0; c < 3; ++c) {
    du[c] = dot(col[c], r) * g.spacing[c] / px;      // pixels per index step
    dv[c] = -dot(col[c], b.up) * g.spacing[c] / px;  // image y grows downwards
    hx += 0.5 * std::fabs(du[c]);
    hy += 0.5 * std::fabs(dv[c]);
  }
  hx = std::max(hx, 0.5);
  hy = std::max(hy, 0.5);
  const Vec3 d0{g.origin[0] - centre[0], g.origin[1] - centre[1], g.origin[2] - centre[2]};
  const double x0 = width / 2.0 + dot(d0, r) / px, y0 = height / 2.0 - dot(d0, b.up) / px;
  const int NI = g.dims[0], NJ = g.dims[1], NK = g.dims[2];
  const size_t npix = size_t(width) * height;
  // Pixel span [a, b] a voxel centred at c covers along one image axis (half width h).
  auto span = [](double c, double h, int limit, int& a, int& b) {
    a = int(std::floor(c - h + 0.5));
    b = int(std::floor(c + h - 0.5));
    if (b < a) b = a = int(std::floor(c));
    a = std::max(a, 0);
    b = std::min(b, limit - 1);
  };

  // Fast path: when two grid axes lie in the image's horizontal plane (every
  // spin frame of an axial, sagittal or coronal acquisition), a slice across
  // the third axis projects onto one band of rows. Its voxels are maxed into a
  // single line first (which stays in cache), and the line into the band's rows.
  int band = -1;
  for (int c = 0; c < 3 && band < 0; ++c)
    if (std::fabs(dv[(c + 1) % 3]) < 1e-9 && std::fabs(dv[(c + 2) % 3]) < 1e-9) band = c;
  if (band >= 0) {
    const std::array<int, 3> n{NI, NJ, NK};
    const std::array<size_t, 3> stride{1, size_t(NI), size_t(NI) * NJ};
    // Inner axis: the other axis with the smaller memory stride.
    const int inner = band == 0 ? 1 : 0, outer = 3 - band - inner;
    threads = std::max(1, std::min(threads, n[band]));
    return maxOverThreads(threads, npix, [&](int t, int16_t* out) {
      std::vector<int16_t> line(width);
      for (int sl = t; sl < n[band]; sl += threads) {
        int ya, yb;
        span(y0 + sl * dv[band], hy, height, ya, yb);
        if (yb < ya) continue;
        std::fill(line.begin(), line.end(), INT16_MIN);
        int touched_lo = width, touched_hi = -1;
        for (int o = 0; o < n[outer]; ++o) {
          const int16_t* row = g.data + sl * stride[band] + o * stride[outer];
          const double xr = x0 + sl * du[band] + o * du[outer];
          for (int u = 0; u < n[inner]; ++u) {
            const int16_t val = row[u * stride[inner]];
            if (val < lo) continue;
            int xa, xb;
            span(xr + u * du[inner], hx, width, xa, xb);
            for (int x = xa; x <= xb; ++x)
              if (line[x] < val) line[x] = val;
            touched_lo = std::min(touched_lo, xa);
            touched_hi = std::max(touched_hi, xb);
          }
        }
        for (int y = ya; y <= yb; ++y) {
          int16_t* o = out + size_t(y) * width;
          for (int x = touched_lo; x <= touched_hi; ++x)
            if (o[x] < line[x]) o[x] = line[x];
        }
      }
    });
  }

  threads = std::max(1, std::min(threads, NK));
  return maxOverThreads(threads, npix, [&](int t, int16_t* out) {
    for (int k = t; k < NK; k += threads)
      for (int j = 0; j < NJ; ++j) {
        const int16_t* row = g.data + (size_t(k) * NJ + j) * NI;
        const double xr = x0 + j * du[1] + k * du[2], yr = y0 + j * dv[1] + k * dv[2];
        for (int i = 0; i < NI; ++i) {
          const int16_t val = row[i];
          if (val < lo) continue;
          int xa, xb, ya, yb;
          span(xr + i * du[0], hx, width, xa, xb);
          span(yr + i * dv[0], hy, height, ya, yb);
          for (int y = ya; y <= yb; ++y) {
            int16_t* o = out + size_t(y) * width;
            for (int x = xa; x <= xb; ++x)
              if (o[x] < val) o[x] = val;
          }
        }
      }
  });
}

std::vector<int16_t> mirrorRows(const std::vector<int16_t>& image, int width, int height) {
  std::vector<int16_t> out(image.size());
  for (int y = 0; y < height; ++y) {
    const int16_t* s = image.data() + size_t(y) * width;
    int16_t* d = out.data() + size_t(y) * width;
    for (int x = 0; x < width; ++x) d[x] = s[width - 1 - x];
  }
  return out;
}

}  // namespace volnode::render
