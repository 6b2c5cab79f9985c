// Surface extraction: iso-surface (flying edges), largest connected parts,
// quadric decimation to the triangle budget, windowed-sinc smoothing, then
// index space -> patient (LPS) millimetres.
#include "volnode/mesh/mesh.hpp"

#include <vtkCellArray.h>
#include <vtkFloatArray.h>
#include <vtkFlyingEdges3D.h>
#include <vtkIdTypeArray.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkQuadricDecimation.h>
#include <vtkShortArray.h>
#include <vtkSmartPointer.h>
#include <vtkWindowedSincPolyDataFilter.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Number of grid edges along i, j and k whose ends lie on different sides of t:
// about the number of vertices a marching-cubes surface has, split by axis.
std::array<double, 3> countCrossings(const Volume& v, double t) {
  const int nx = v.dimensions[0], ny = v.dimensions[1], nz = v.dimensions[2];
  const size_t sy = size_t(nx), sz = size_t(nx) * ny;
  size_t cx = 0, cy = 0, cz = 0;
  const int16_t* p = v.voxels.data();
  for (int k = 0; k < nz; ++k)
    for (int j = 0; j < ny; ++j) {
      const size_t row = k * sz + j * sy;
      for (int i = 0; i < nx; ++i) {
        const size_t at = row + i;
        const bool in = p[at] >= t;
        if (i + 1 < nx) cx += in != (p[at + 1] >= t);
        if (j + 1 < ny) cy += in != (p[at + sy] >= t);
        if (k + 1 < nz) cz += in != (p[at + sz] >= t);
      }
    }
  return {double(cx), double(cy), double(cz)};
}

// Block sizes (voxels per axis) so the raw surface stays within `limit` triangles:
// blocks as close to cubes in millimetres as the spacing allows. An edge along
// axis a crosses the surface ~ 1/(f_b f_c) as often when the other two axes are
// merged f_b and f_c times.
std::array<int, 3> chooseBlocks(const Volume& v, const std::array<double, 3>& crossings, double limit) {
  std::array<int, 3> f{1, 1, 1};
  auto estimate = [&](const std::array<int, 3>& b) {
    return 2.0 * (crossings[0] / (b[1] * b[2]) + crossings[1] / (b[0] * b[2]) + crossings[2] / (b[0] * b[1]));
  };
  if (limit <= 0 || estimate(f) <= limit) return f;
  const double finest = std::min({v.spacing[0], v.spacing[1], v.spacing[2]});
  for (double h = finest * 1.1; h < finest * 16; h *= 1.1) {
    for (int a = 0; a < 3; ++a) f[a] = std::clamp(int(std::floor(h / v.spacing[a] + 0.5)), 1, 8);
    if (estimate(f) <= limit) break;
  }
  return f;
}

// Image data in "index x spacing" space (no direction, no origin); f > 1 block-averages.
vtkSmartPointer<vtkImageData> toImage(const Volume& v, const std::array<int, 3>& f) {
  auto image = vtkSmartPointer<vtkImageData>::New();
  if (f[0] == 1 && f[1] == 1 && f[2] == 1) {
    image->SetDimensions(v.dimensions[0], v.dimensions[1], v.dimensions[2]);
    image->SetSpacing(v.spacing[0], v.spacing[1], v.spacing[2]);
    image->SetOrigin(0, 0, 0);
    vtkNew<vtkShortArray> scalars;
    // Read only: the filters below never write their input.
    scalars->SetArray(const_cast<int16_t*>(v.voxels.data()), vtkIdType(v.voxels.size()), 1);
    image->GetPointData()->SetScalars(scalars);
    return image;
  }
  const int nx = v.dimensions[0], ny = v.dimensions[1], nz = v.dimensions[2];
  const int fx = f[0], fy = f[1], fz = f[2];
  const int ox = (nx + fx - 1) / fx, oy = (ny + fy - 1) / fy, oz = (nz + fz - 1) / fz;
  image->SetDimensions(ox, oy, oz);
  image->SetSpacing(v.spacing[0] * fx, v.spacing[1] * fy, v.spacing[2] * fz);
  // Block b covers indices f*b .. f*b+f-1: its centre is at index f*b + (f-1)/2.
  image->SetOrigin(0.5 * (fx - 1) * v.spacing[0], 0.5 * (fy - 1) * v.spacing[1], 0.5 * (fz - 1) * v.spacing[2]);
  vtkNew<vtkFloatArray> scalars;
  scalars->SetNumberOfValues(vtkIdType(ox) * oy * oz);
  float* out = scalars->GetPointer(0);
  std::vector<float> sum(size_t(ox) * oy);
  std::vector<int> count(size_t(ox) * oy);
  for (int bz = 0; bz < oz; ++bz) {
    std::fill(sum.begin(), sum.end(), 0.f);
    std::fill(count.begin(), count.end(), 0);
    for (int k = bz * fz; k < std::min(nz, bz * fz + fz); ++k)
      for (int j = 0; j < ny; ++j) {
        const int16_t* row = v.voxels.data() + (size_t(k) * ny + j) * nx;
        float* srow = sum.data() + size_t(j / fy) * ox;
        int* crow = count.data() + size_t(j / fy) * ox;
        for (int i = 0; i < nx; ++i) {
          srow[i / fx] += row[i];
          ++crow[i / fx];
        }
      }
    for (size_t n = 0; n < sum.size(); ++n) out[size_t(bz) * sum.size() + n] = sum[n] / float(std::max(1, count[n]));
  }
  image->GetPointData()->SetScalars(scalars);
  return image;
}

struct RawMesh {
  std::vector<double> points;
  std::vector<vtkIdType> triangles;
};

RawMesh fromPolyData(vtkPolyData* poly) {
  RawMesh m;
  vtkPoints* points = poly->GetPoints();
  const vtkIdType np = points ? points->GetNumberOfPoints() : 0;
  m.points.resize(size_t(np) * 3);
  for (vtkIdType i = 0; i < np; ++i) points->GetPoint(i, &m.points[size_t(i) * 3]);
  vtkCellArray* polys = poly->GetPolys();
  m.triangles.reserve(size_t(polys->GetNumberOfCells()) * 3);
  vtkNew<vtkIdList> ids;
  for (polys->InitTraversal(); polys->GetNextCell(ids);) {
    if (ids->GetNumberOfIds() != 3) continue;
    for (int c = 0; c < 3; ++c) m.triangles.push_back(ids->GetId(c));
  }
  return m;
}

vtkSmartPointer<vtkPolyData> toPolyData(const RawMesh& m) {
  auto poly = vtkSmartPointer<vtkPolyData>::New();
  vtkNew<vtkPoints> points;
  points->SetDataTypeToDouble();
  points->SetNumberOfPoints(vtkIdType(m.points.size() / 3));
  for (size_t i = 0; i < m.points.size() / 3; ++i) points->SetPoint(vtkIdType(i), &m.points[i * 3]);
  vtkNew<vtkCellArray> cells;
  cells->AllocateExact(vtkIdType(m.triangles.size() / 3), vtkIdType(m.triangles.size()));
  for (size_t t = 0; t < m.triangles.size(); t += 3) cells->InsertNextCell(3, &m.triangles[t]);
  poly->SetPoints(points);
  poly->SetPolys(cells);
  return poly;
}

// Keeps every connected part (union-find over shared vertices) whose enclosed
// volume (divergence theorem over its triangles, mm³) is at least min_island_mm3,
// and the largest part in any case. Returns the parts kept.
int keepPartsAbove(RawMesh& m, double min_island_mm3) {
  const size_t np = m.points.size() / 3, nt = m.triangles.size() / 3;
  std::vector<vtkIdType> parent(np);
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](vtkIdType x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (size_t t = 0; t < nt; ++t) {
    const vtkIdType a = find(m.triangles[t * 3]);
    for (int c = 1; c < 3; ++c) {
      const vtkIdType b = find(m.triangles[t * 3 + c]);
      if (a != b) parent[b] = a;
    }
  }
  std::vector<double> volume(np, 0.0);
  std::vector<char> used(np, 0);
  for (size_t t = 0; t < nt; ++t) {
    const double* p0 = &m.points[size_t(m.triangles[t * 3]) * 3];
    const double* p1 = &m.points[size_t(m.triangles[t * 3 + 1]) * 3];
    const double* p2 = &m.points[size_t(m.triangles[t * 3 + 2]) * 3];
    const double cross[3] = {p1[1] * p2[2] - p1[2] * p2[1], p1[2] * p2[0] - p1[0] * p2[2], p1[0] * p2[1] - p1[1] * p2[0]};
    const vtkIdType root = find(m.triangles[t * 3]);
    volume[size_t(root)] += (p0[0] * cross[0] + p0[1] * cross[1] + p0[2] * cross[2]) / 6.0;
    used[size_t(root)] = 1;
  }
  size_t largest = np;
  for (size_t i = 0; i < np; ++i)
    if (used[i] && (largest == np || std::abs(volume[i]) > std::abs(volume[largest]))) largest = i;
  std::vector<char> keep(np, 0);
  int kept = 0;
  for (size_t i = 0; i < np; ++i) {
    if (!used[i] || (i != largest && std::abs(volume[i]) < min_island_mm3)) continue;
    keep[i] = 1;
    ++kept;
  }
  std::vector<vtkIdType> remap(np, -1);
  RawMesh out;
  for (size_t t = 0; t < nt; ++t) {
    if (!keep[find(m.triangles[t * 3])]) continue;
    for (int c = 0; c < 3; ++c) {
      const vtkIdType p = m.triangles[t * 3 + c];
      if (remap[p] < 0) {
        remap[p] = vtkIdType(out.points.size() / 3);
        out.points.insert(out.points.end(), &m.points[size_t(p) * 3], &m.points[size_t(p) * 3] + 3);
      }
      out.triangles.push_back(remap[p]);
    }
  }
  m = std::move(out);
  return kept;
}

}  // namespace

std::array<double, 6> Mesh::bounds() const {
  if (vertices.empty()) return {0, 0, 0, 0, 0, 0};
  std::array<double, 6> b{1e300, -1e300, 1e300, -1e300, 1e300, -1e300};
  for (size_t i = 0; i < vertices.size(); i += 3)
    for (int c = 0; c < 3; ++c) {
      b[c * 2] = std::min<double>(b[c * 2], vertices[i + c]);
      b[c * 2 + 1] = std::max<double>(b[c * 2 + 1], vertices[i + c]);
    }
  return b;
}

double otsuThreshold(const Volume& volume) {
  if (volume.voxels.empty()) throw Error(Errc::InvalidArgument, "empty volume");
  const auto [lo_it, hi_it] = std::minmax_element(volume.voxels.begin(), volume.voxels.end());
  const int lo = *lo_it, hi = *hi_it;
  if (lo == hi) return lo;
  constexpr int kBins = 1024;
  const double width = double(hi - lo + 1) / kBins;
  std::vector<double> hist(kBins, 0);
  for (int16_t v : volume.voxels) hist[std::min(kBins - 1, int((v - lo) / width))] += 1;
  const double total = double(volume.voxels.size());
  double sum_all = 0;
  for (int b = 0; b < kBins; ++b) sum_all += b * hist[b];
  std::vector<double> between(kBins, -1);
  double w0 = 0, sum0 = 0, best = -1;
  for (int b = 0; b < kBins - 1; ++b) {
    w0 += hist[b];
    sum0 += b * hist[b];
    const double w1 = total - w0;
    if (w0 == 0 || w1 == 0) continue;
    const double m0 = sum0 / w0, m1 = (sum_all - sum0) / w1;
    between[b] = w0 * w1 * (m0 - m1) * (m0 - m1);
    best = std::max(best, between[b]);
  }
  // Empty bins between the classes give a plateau of equal scores: take its middle.
  int first = -1, last = -1;
  for (int b = 0; b < kBins; ++b)
    if (between[b] >= best * (1 - 1e-12)) {
      if (first < 0) first = b;
      last = b;
    } else if (first >= 0) {
      break;
    }
  return lo + (0.5 * (first + last) + 1) * width;  // upper edge of the background class
}

MeshResult extractSurface(const Volume& volume, const MeshOptions& options) {
  if (volume.voxels.empty() || volume.voxelCount() != volume.voxels.size() || volume.dimensions[0] < 2 ||
      volume.dimensions[1] < 2 || volume.dimensions[2] < 2)
    throw Error(Errc::InvalidArgument, "cannot extract a surface from an empty or inconsistent volume");
  MeshResult result;
  auto t = Clock::now();
  result.threshold = options.threshold ? *options.threshold : volume.modality == "CT" ? 250.0 : otsuThreshold(volume);
  const size_t budget = std::max<size_t>(options.max_triangles, 4);

  auto add_time = [&](const char* stage, Clock::time_point since) {
    for (auto& [name, seconds] : result.timings_s)
      if (name == stage) return void(seconds += secondsSince(since));
    result.timings_s.push_back({stage, secondsSince(since)});
  };
  const std::array<double, 3> crossings = countCrossings(volume, result.threshold);
  add_time("prepare", t);

  // Block-average so the raw surface stays near the budget (decimation is the slow
  // step), decimate the rest; when decimation cannot reach the budget (it refuses
  // some collapses), start again from coarser blocks.
  vtkSmartPointer<vtkPolyData> poly;
  double limit = options.raw_triangle_factor * double(budget);
  for (int attempt = 0; attempt < 6; ++attempt) {
    t = Clock::now();
    result.downsample = chooseBlocks(volume, crossings, limit);
    auto image = toImage(volume, result.downsample);
    add_time("prepare", t);

    t = Clock::now();
    vtkNew<vtkFlyingEdges3D> contour;
    contour->SetInputData(image);
    contour->SetValue(0, result.threshold);
    contour->ComputeNormalsOff();
    contour->ComputeGradientsOff();
    contour->ComputeScalarsOff();
    contour->Update();
    RawMesh raw = fromPolyData(contour->GetOutput());
    result.raw_triangles = raw.triangles.size() / 3;
    add_time("contour", t);
    if (raw.triangles.empty()) return result;

    t = Clock::now();
    result.parts_kept = keepPartsAbove(raw, options.min_island_mm3);
    add_time("connectivity", t);

    poly = toPolyData(raw);
    raw = {};
    t = Clock::now();
    for (int pass = 0; pass < 2 && size_t(poly->GetNumberOfPolys()) > budget; ++pass) {
      vtkNew<vtkQuadricDecimation> decimate;
      decimate->SetInputData(poly);
      // Aim a little under the budget: the filter stops near, not exactly at, the target.
      const double target = 0.98 * double(budget) / double(poly->GetNumberOfPolys());
      decimate->SetTargetReduction(std::clamp(1.0 - target, 0.0, 0.999));
      decimate->VolumePreservationOn();
      decimate->Update();
      poly = decimate->GetOutput();
    }
    add_time("decimate", t);
    if (size_t(poly->GetNumberOfPolys()) <= budget) break;
    limit = 0.5 * (limit > 0 ? limit : 2.0 * (crossings[0] + crossings[1] + crossings[2]));
    moduleLogger("pipeline")->debug("surface: decimation stopped at {} triangles (budget {}); coarser blocks",
                                    poly->GetNumberOfPolys(), budget);
  }
  if (size_t(poly->GetNumberOfPolys()) > budget)
    throw Error(Errc::Internal, "surface: cannot reduce the mesh to " + std::to_string(budget) + " triangles");

  t = Clock::now();
  if (options.smoothing_iterations > 0) {
    vtkNew<vtkWindowedSincPolyDataFilter> smooth;
    smooth->SetInputData(poly);
    smooth->SetNumberOfIterations(options.smoothing_iterations);
    smooth->SetPassBand(options.smoothing_passband);
    smooth->BoundarySmoothingOff();
    smooth->FeatureEdgeSmoothingOff();
    smooth->NonManifoldSmoothingOn();
    smooth->NormalizeCoordinatesOn();
    smooth->Update();
    poly = smooth->GetOutput();
  }
  add_time("smooth", t);

  // Index space (already scaled by spacing) -> LPS: p = origin + D * q.
  t = Clock::now();
  RawMesh m = fromPolyData(poly);
  const auto& D = volume.direction;
  Mesh& mesh = result.mesh;
  mesh.vertices.resize(m.points.size());
  for (size_t i = 0; i < m.points.size(); i += 3) {
    const double* q = &m.points[i];
    for (int r = 0; r < 3; ++r)
      mesh.vertices[i + r] = float(volume.origin[r] + D[r * 3] * q[0] + D[r * 3 + 1] * q[1] + D[r * 3 + 2] * q[2]);
  }
  mesh.triangles.assign(m.triangles.begin(), m.triangles.end());
  // Outward-facing, counter-clockwise triangles: the signed volume (about the
  // centroid) of a surface enclosing the material is positive.
  double c[3] = {0, 0, 0};
  for (size_t i = 0; i < mesh.vertices.size(); i += 3)
    for (int r = 0; r < 3; ++r) c[r] += mesh.vertices[i + r];
  for (double& x : c) x /= double(std::max<size_t>(1, mesh.vertexCount()));
  double signed_volume = 0;
  for (size_t t3 = 0; t3 < mesh.triangles.size(); t3 += 3) {
    double p[3][3];
    for (int k = 0; k < 3; ++k)
      for (int r = 0; r < 3; ++r) p[k][r] = mesh.vertices[size_t(mesh.triangles[t3 + k]) * 3 + r] - c[r];
    signed_volume += p[0][0] * (p[1][1] * p[2][2] - p[1][2] * p[2][1]) - p[0][1] * (p[1][0] * p[2][2] - p[1][2] * p[2][0]) +
                     p[0][2] * (p[1][0] * p[2][1] - p[1][1] * p[2][0]);
  }
  if (signed_volume < 0)
    for (size_t t3 = 0; t3 < mesh.triangles.size(); t3 += 3) std::swap(mesh.triangles[t3 + 1], mesh.triangles[t3 + 2]);
  add_time("to-patient", t);
  return result;
}

uintmax_t writeBinaryStl(const Mesh& mesh, const std::filesystem::path& file, const std::string& header) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  const std::filesystem::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(Errc::Io, "cannot write " + file.string());
    char head[80] = {};
    std::string text = header.rfind("solid", 0) == 0 ? "binary " + header : header;  // never looks like ASCII STL
    std::memcpy(head, text.data(), std::min<size_t>(80, text.size()));
    out.write(head, 80);
    const uint32_t n = uint32_t(mesh.triangleCount());
    out.write(reinterpret_cast<const char*>(&n), 4);  // x86: little endian
    std::vector<char> buf;
    buf.reserve(size_t(n) * 50);
    for (size_t t = 0; t < mesh.triangles.size(); t += 3) {
      const float* a = &mesh.vertices[size_t(mesh.triangles[t]) * 3];
      const float* b = &mesh.vertices[size_t(mesh.triangles[t + 1]) * 3];
      const float* c = &mesh.vertices[size_t(mesh.triangles[t + 2]) * 3];
      const float u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, v[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
      float nrm[3] = {u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]};
      const float len = std::sqrt(nrm[0] * nrm[0] + nrm[1] * nrm[1] + nrm[2] * nrm[2]);
      for (float& x : nrm) x = len > 0 ? x / len : 0.f;
      char record[50] = {};
      std::memcpy(record, nrm, 12);
      std::memcpy(record + 12, a, 12);
      std::memcpy(record + 24, b, 12);
      std::memcpy(record + 36, c, 12);
      buf.insert(buf.end(), record, record + 50);
    }
    out.write(buf.data(), std::streamsize(buf.size()));
    if (!out.flush()) throw Error(Errc::Io, "cannot write " + file.string());
  }
  std::filesystem::rename(tmp, file, ec);
  if (ec) throw Error(Errc::Io, "cannot rename " + tmp.string() + ": " + ec.message());
  return std::filesystem::file_size(file);
}

Mesh readBinaryStl(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(Errc::Io, "cannot read " + file.string());
  char head[84];
  if (!in.read(head, 84)) throw Error(Errc::InvalidArgument, file.string() + " is too short for binary STL");
  uint32_t n = 0;
  std::memcpy(&n, head + 80, 4);
  Mesh mesh;
  mesh.vertices.reserve(size_t(n) * 9);
  mesh.triangles.reserve(size_t(n) * 3);
  char record[50];
  for (uint32_t t = 0; t < n; ++t) {
    if (!in.read(record, 50)) throw Error(Errc::InvalidArgument, file.string() + ": truncated binary STL");
    float v[9];
    std::memcpy(v, record + 12, 36);
    for (int k = 0; k < 3; ++k) mesh.triangles.push_back(uint32_t(mesh.vertices.size() / 3 + k));
    mesh.vertices.insert(mesh.vertices.end(), v, v + 9);
  }
  return mesh;
}

}  // namespace volnode
