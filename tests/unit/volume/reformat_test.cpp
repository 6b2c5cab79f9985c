// Reformats against an analytic phantom: a bright sphere at known patient coordinates
// must come out where the reformat's own plane geometry says, whatever the source's
// orientation (axial head or feet first, gantry-tilted, oblique).
#include <gtest/gtest.h>

#include <cmath>

#include "volnode/core/error.hpp"
#include "volnode/volume/reformat.hpp"

namespace volnode::test {
namespace {

using Vec3 = std::array<double, 3>;

// Direction matrix (row-major, columns = index axes) rotated about an LPS axis.
std::array<double, 9> rotated(const std::array<double, 9>& base, const Vec3& axis, double degrees) {
  const double a = degrees * M_PI / 180, c = std::cos(a), s = std::sin(a), t = 1 - c;
  const double x = axis[0], y = axis[1], z = axis[2];
  const double r[9] = {t * x * x + c,     t * x * y - s * z, t * x * z + s * y,  //
                       t * x * y + s * z, t * y * y + c,     t * y * z - s * x,  //
                       t * x * z - s * y, t * y * z + s * x, t * z * z + c};
  std::array<double, 9> out{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) out[i * 3 + j] = r[i * 3 + 0] * base[0 + j] + r[i * 3 + 1] * base[3 + j] + r[i * 3 + 2] * base[6 + j];
  return out;
}

struct Phantom {
  Vec3 marker{12, -20, 25};  // LPS mm: patient left, anterior, towards the head
  double radius = 5;
  Volume volume;
};

// A 96^3 volume (1 x 1 x 1.5 mm) centred near the origin, with the given direction;
// voxels inside the sphere are 1000, the rest 0.
Phantom makePhantom(const std::array<double, 9>& direction) {
  Phantom p;
  Volume& v = p.volume;
  v.dimensions = {96, 96, 64};
  v.spacing = {1.0, 1.0, 1.5};
  v.direction = direction;
  // Put the centre of the grid at the origin.
  const Vec3 half{47.5 * v.spacing[0], 47.5 * v.spacing[1], 31.5 * v.spacing[2]};
  for (int r = 0; r < 3; ++r)
    v.origin[r] = -(direction[r * 3 + 0] * half[0] + direction[r * 3 + 1] * half[1] + direction[r * 3 + 2] * half[2]);
  v.modality = "CT";
  v.voxels.assign(v.voxelCount(), 0);
  for (int k = 0; k < v.dimensions[2]; ++k)
    for (int j = 0; j < v.dimensions[1]; ++j)
      for (int i = 0; i < v.dimensions[0]; ++i) {
        const Vec3 q = v.physicalPoint(i, j, k);
        const double d = std::hypot(q[0] - p.marker[0], q[1] - p.marker[1], q[2] - p.marker[2]);
        if (d <= p.radius) v.voxels[(size_t(k) * v.dimensions[1] + j) * v.dimensions[0] + i] = 1000;
      }
  return p;
}

// Value-weighted centre of everything bright, each pixel placed by its plane geometry.
Vec3 brightCentroid(const std::vector<PlaneImage>& images) {
  Vec3 sum{0, 0, 0};
  double weight = 0;
  for (const auto& image : images)
    for (int row = 0; row < image.geometry.rows; ++row)
      for (int column = 0; column < image.geometry.columns; ++column) {
        const double value = image.at(column, row);
        if (value < 100) continue;
        const Vec3 q = image.geometry.pointAt(column, row);
        for (int a = 0; a < 3; ++a) sum[a] += value * q[a];
        weight += value;
      }
  EXPECT_GT(weight, 0) << "no bright pixel in the reformat";
  return {sum[0] / weight, sum[1] / weight, sum[2] / weight};
}

struct Orientation {
  const char* name;
  std::array<double, 9> direction;
};

const std::array<double, 9> kIdentity{1, 0, 0, 0, 1, 0, 0, 0, 1};
// Feet first supine axial: rows run to the patient's right, slices from head to feet.
const std::array<double, 9> kFeetFirst{-1, 0, 0, 0, 1, 0, 0, 0, -1};
// Sagittal acquisition: rows along P, columns along F, slices from right to left.
const std::array<double, 9> kSagittal{0, 0, 1, 1, 0, 0, 0, -1, 0};

const Orientation kOrientations[] = {
    {"axial head first", kIdentity},
    {"axial feet first", kFeetFirst},
    {"gantry tilt 20 deg", rotated(kIdentity, {1, 0, 0}, 20)},
    {"oblique", rotated(kIdentity, {0.6, 0.48, 0.64}, 27)},
    {"sagittal oblique", rotated(kSagittal, {0, 0, 1}, 12)},
};

TEST(Reformat, MarkerAppearsWhereThePlaneGeometrySaysForEveryPlaneAndSourceOrientation) {
  for (const auto& orientation : kOrientations) {
    const Phantom p = makePhantom(orientation.direction);
    for (ReformatPlane plane : {ReformatPlane::Axial, ReformatPlane::Coronal, ReformatPlane::Sagittal}) {
      for (SlabMode mode : {SlabMode::Average, SlabMode::Maximum}) {
        ReformatSpec spec;
        spec.plane = plane;
        spec.mode = mode;
        spec.thickness_mm = 2;
        spec.spacing_mm = 1;
        const auto images = reformatVolume(p.volume, spec, -1024, 2);
        const Vec3 c = brightCentroid(images);
        for (int a = 0; a < 3; ++a)
          EXPECT_NEAR(c[a], p.marker[a], 0.6)
              << orientation.name << ", " << reformatPlaneName(plane) << " " << slabModeName(mode) << ", axis " << a;
      }
    }
  }
}

TEST(Reformat, PlanesAreTruePatientPlanesWithRadiologicalOrientation) {
  const Phantom p = makePhantom(rotated(kIdentity, {1, 0, 0}, 18.5));
  ReformatSpec spec;
  spec.plane = ReformatPlane::Coronal;
  auto planes = reformatPlanes(p.volume, spec);
  ASSERT_GT(planes.size(), 2u);
  EXPECT_EQ(planes[0].row_direction, (Vec3{1, 0, 0}));      // towards the patient's left: image right
  EXPECT_EQ(planes[0].column_direction, (Vec3{0, 0, -1}));  // towards the feet: image bottom
  EXPECT_EQ(planes[0].normal(), (Vec3{0, 1, 0}));
  spec.plane = ReformatPlane::Sagittal;
  planes = reformatPlanes(p.volume, spec);
  EXPECT_EQ(planes[0].row_direction, (Vec3{0, 1, 0}));      // towards posterior: image right
  EXPECT_EQ(planes[0].column_direction, (Vec3{0, 0, -1}));
  spec.plane = ReformatPlane::Axial;
  planes = reformatPlanes(p.volume, spec);
  EXPECT_EQ(planes[0].row_direction, (Vec3{1, 0, 0}));
  EXPECT_EQ(planes[0].column_direction, (Vec3{0, 1, 0}));

  // In the coronal slice through the marker, the marker (patient left, head end) lies
  // right of the centre column and above the centre row.
  spec.plane = ReformatPlane::Coronal;
  spec.thickness_mm = 3;
  const auto images = reformatVolume(p.volume, spec, -1024, 2);
  const PlaneImage* through = nullptr;
  for (const auto& image : images)
    if (std::abs(image.geometry.position[1] - p.marker[1]) < 1.5) through = &image;
  ASSERT_NE(through, nullptr);
  int best_column = 0, best_row = 0;
  for (int row = 0; row < through->geometry.rows; ++row)
    for (int column = 0; column < through->geometry.columns; ++column)
      if (through->at(column, row) > through->at(best_column, best_row)) best_column = column, best_row = row;
  EXPECT_GT(best_column, through->geometry.columns / 2);
  EXPECT_LT(best_row, through->geometry.rows / 2);
}

TEST(Reformat, SliceCountSpacingAndThicknessFollowTheSpec) {
  const Phantom p = makePhantom(kIdentity);  // 95 x 95 x 94.5 mm between outer voxel centres
  ReformatSpec spec;
  spec.plane = ReformatPlane::Sagittal;
  spec.thickness_mm = 3;
  spec.spacing_mm = 3;
  const auto planes = reformatPlanes(p.volume, spec);
  EXPECT_EQ(planes.size(), 32u);  // floor(95 / 3) + 1
  for (size_t i = 1; i < planes.size(); ++i) {
    const auto n = planes[i].normal();
    double step = 0;
    for (int a = 0; a < 3; ++a) step += (planes[i].position[a] - planes[i - 1].position[a]) * n[a];
    EXPECT_NEAR(step, 3.0, 1e-9);
  }
  EXPECT_DOUBLE_EQ(planes[0].thickness, 3.0);
  EXPECT_DOUBLE_EQ(planes[0].row_spacing, 1.0);  // finest source spacing
  EXPECT_EQ(planes[0].columns, 96);               // 95 mm along P at 1 mm
  EXPECT_EQ(planes[0].rows, 95);                  // 94.5 mm along F at 1 mm
  // Slab centred on the box: first and last slice equally far inside the outer voxel centres.
  EXPECT_NEAR(planes.front().position[0] + planes.back().position[0], 0.0, 1e-9);
  EXPECT_GT(planes.front().position[0], planes.back().position[0]);  // sagittal slices run left to right
}

TEST(Reformat, ThickSlabMipKeepsThePeakAndAverageSpreadsIt) {
  const Phantom p = makePhantom(kIdentity);
  ReformatSpec spec;
  spec.plane = ReformatPlane::Axial;
  spec.thickness_mm = 20;
  spec.spacing_mm = 20;
  spec.mode = SlabMode::Maximum;
  int16_t mip_peak = 0, average_peak = 0;
  for (const auto& image : reformatVolume(p.volume, spec, -1024, 1))
    for (int16_t v : image.pixels) mip_peak = std::max(mip_peak, v);
  spec.mode = SlabMode::Average;
  for (const auto& image : reformatVolume(p.volume, spec, -1024, 1))
    for (int16_t v : image.pixels) average_peak = std::max(average_peak, v);
  EXPECT_EQ(mip_peak, 1000);
  EXPECT_LT(average_peak, 700);  // a 10 mm sphere in a 20 mm slab
  EXPECT_GT(average_peak, 300);
}

TEST(Reformat, OutsideTheVolumeIsFillAndBadSpecsAreRefused) {
  const Phantom p = makePhantom(rotated(kIdentity, {0, 0, 1}, 45));  // corners of the box lie outside
  ReformatSpec spec;
  spec.plane = ReformatPlane::Axial;
  const auto images = reformatVolume(p.volume, spec, -1024, 2);
  EXPECT_EQ(images[images.size() / 2].at(0, 0), -1024);
  spec.spacing_mm = 0;
  EXPECT_THROW(reformatPlanes(p.volume, spec), Error);
  spec.spacing_mm = 3;
  spec.thickness_mm = -1;
  EXPECT_THROW(reformatPlanes(p.volume, spec), Error);
  EXPECT_THROW(reformatPlanes(Volume{}, ReformatSpec{}), Error);
  EXPECT_THROW(parseReformatPlane("oblique"), Error);
  EXPECT_THROW(parseSlabMode("minip"), Error);
}

}  // namespace
}  // namespace volnode::test
