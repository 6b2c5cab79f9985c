#pragma once
// Surface meshes from volumes (VTK inside, plain data outside): an iso-surface
// of bone (CT) or skin (MR), connected parts above a volume kept, windowed-sinc
// smoothed, decimated to a triangle budget, in patient (LPS) coordinates, mm.
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "volnode/volume/volume.hpp"

namespace volnode {

struct Mesh {
  std::vector<float> vertices;     // x, y, z per vertex: LPS, millimetres
  std::vector<uint32_t> triangles;  // three vertex indices per triangle, counter-clockwise seen from outside
  size_t vertexCount() const { return vertices.size() / 3; }
  size_t triangleCount() const { return triangles.size() / 3; }
  bool empty() const { return triangles.empty(); }
  // {xmin, xmax, ymin, ymax, zmin, zmax} of the vertices (all zero when empty).
  std::array<double, 6> bounds() const;
};

struct MeshOptions {
  // Iso-value in the volume's physical units. Unset: CT 250 HU (bone), otherwise
  // (MR, ...) an automatic skin threshold (Otsu's threshold of the intensity histogram).
  std::optional<double> threshold;
  size_t max_triangles = 300'000;   // decimated to at most this many
  // Connected parts kept: every part enclosing at least this volume (mm³), and the
  // largest in any case. Drops specks and noise but keeps every bone of a skeleton
  // (ribs, small bones of hand and foot), not only the largest piece.
  double min_island_mm3 = 200;
  int smoothing_iterations = 15;     // windowed sinc; 0: none
  double smoothing_passband = 0.1;
  // Volumes are block-averaged (blocks as cubic in mm as the spacing allows)
  // before contouring so the raw surface stays within about this multiple of
  // max_triangles: quadric decimation costs ~10 us per removed triangle, so it
  // is a safety net rather than the main reduction. 0: never block-average.
  double raw_triangle_factor = 1.5;
};

struct MeshResult {
  Mesh mesh;
  double threshold = 0;      // iso-value used
  std::array<int, 3> downsample{1, 1, 1};  // block-average factors (i, j, k) applied before contouring
  size_t raw_triangles = 0;  // before connectivity/decimation
  int parts_kept = 0;
  std::vector<std::pair<std::string, double>> timings_s;  // stage -> seconds
};

// Otsu's threshold of the volume's intensities (the automatic MR skin threshold).
double otsuThreshold(const Volume& volume);

// Throws Error(InvalidArgument) for an empty volume. An iso-value no voxel
// reaches gives an empty mesh (not an error).
MeshResult extractSurface(const Volume& volume, const MeshOptions& options = {});

// Binary STL (little endian; 80-byte header not starting with "solid").
// Throws Error(Io). Returns the file size in bytes.
uintmax_t writeBinaryStl(const Mesh& mesh, const std::filesystem::path& file,
                         const std::string& header = "volnode binary STL, LPS millimetres");
// Reads a binary STL written by writeBinaryStl (or any binary STL); vertices are
// not merged. Throws Error(Io) / Error(InvalidArgument).
Mesh readBinaryStl(const std::filesystem::path& file);

}  // namespace volnode
