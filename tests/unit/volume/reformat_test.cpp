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
const std::array<double, 9> kSagittalAcquisition{0, 0, 1, 1, 0, 0, 0, -1, 0};

const Orientation kOrientations[] = {
    {"axial head first", kIdentity},
    {"axial feet first", kFeetFirst},
    {"gantry tilt 20 deg", rotated(kIdentity, {1, 0, 0}, 20)},
    {"oblique", rotated(kIdentity, {0.6, 0.48, 0.64}, 27)},
    {"sagittal oblique", rotated(kSagittalAcquisition, {0, 0, 1}, 12)},
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

// Oblique reformats as a rule configures them: the plane is exactly the base plane
// turned by the angles (ImageOrientationPatient), and the marker appears where that
// geometry says, for head first, feet first, gantry-tilted and oblique sources.
TEST(Reformat, ObliquePlanesAreExactAndCarryTheMarkerWhereTheirGeometrySays) {
  const double s20 = std::sin(20 * M_PI / 180), c20 = std::cos(20 * M_PI / 180);
  const double s15 = std::sin(15 * M_PI / 180), c15 = std::cos(15 * M_PI / 180);
  const double s30 = std::sin(30 * M_PI / 180), c30 = std::cos(30 * M_PI / 180);
  struct Oblique {
    const char* name;
    ReformatPlane plane;
    double tilt, turn;
    Vec3 row, column;  // the analytic answer
  } obliques[] = {
      // Coronal tilted +20: rows along L, the top edge leans anterior.
      {"coronal tilt 20", ReformatPlane::Coronal, 20, 0, {1, 0, 0}, {0, s20, -c20}},
      // Axial tilted -15 (posterior part lower), then turned 30 about the tilted column.
      {"axial tilt -15 turn 30", ReformatPlane::Axial, -15, 30, {c30, -s30 * s15, -s30 * c15}, {0, c15, -s15}},
      // Sagittal turned 30: rows swing from P towards the patient's left.
      {"sagittal turn 30", ReformatPlane::Sagittal, 0, 30, {s30, c30, 0}, {0, 0, -1}},
  };
  for (const auto& orientation : kOrientations) {
    const Phantom p = makePhantom(orientation.direction);
    for (const auto& oblique : obliques) {
      ReformatSpec spec;
      spec.plane = oblique.plane;
      spec.tilt_deg = oblique.tilt;
      spec.turn_deg = oblique.turn;
      spec.thickness_mm = 2;
      spec.spacing_mm = 1;
      const std::string what = std::string(orientation.name) + ", " + oblique.name;
      EXPECT_TRUE(isOblique(spec));
      const auto planes = reformatPlanes(p.volume, spec);
      ASSERT_GT(planes.size(), 2u) << what;
      for (int a = 0; a < 3; ++a) {
        EXPECT_NEAR(planes[0].row_direction[a], oblique.row[a], 1e-12) << what << ", row " << a;
        EXPECT_NEAR(planes[0].column_direction[a], oblique.column[a], 1e-12) << what << ", column " << a;
      }
      const Vec3 r = planes[0].row_direction, c = planes[0].column_direction, n = planes[0].normal();
      EXPECT_NEAR(r[0] * c[0] + r[1] * c[1] + r[2] * c[2], 0, 1e-12) << what;
      EXPECT_NEAR(std::hypot(r[0], r[1], r[2]), 1, 1e-12) << what;
      EXPECT_NEAR(std::hypot(c[0], c[1], c[2]), 1, 1e-12) << what;
      for (size_t i = 1; i < planes.size(); ++i) {  // a stack along the normal, one spacing apart
        EXPECT_EQ(planes[i].row_direction, planes[0].row_direction);
        double along = 0, across = 0;
        for (int a = 0; a < 3; ++a) {
          const double d = planes[i].position[a] - planes[i - 1].position[a];
          along += d * n[a];
          across += d * r[a] + d * c[a];
        }
        EXPECT_NEAR(along, 1.0, 1e-9) << what;
        EXPECT_NEAR(across, 0.0, 1e-9) << what;
      }
      for (SlabMode mode : {SlabMode::Average, SlabMode::Maximum}) {
        spec.mode = mode;
        const auto images = reformatVolume(p.volume, spec, -1024, 2);
        const Vec3 centroid = brightCentroid(images);
        for (int a = 0; a < 3; ++a)
          EXPECT_NEAR(centroid[a], p.marker[a], 0.6) << what << ", " << slabModeName(mode) << ", axis " << a;
      }
      // The brightest pixel of the slice nearest the marker is the pixel its geometry puts the marker on.
      spec.mode = SlabMode::Average;
      const auto images = reformatVolume(p.volume, spec, -1024, 2);
      const PlaneImage* nearest = nullptr;
      double nearest_distance = 1e9;
      for (const auto& image : images) {
        double d = 0;
        for (int a = 0; a < 3; ++a) d += (p.marker[a] - image.geometry.position[a]) * n[a];
        if (std::abs(d) < nearest_distance) nearest_distance = std::abs(d), nearest = &image;
      }
      ASSERT_NE(nearest, nullptr);
      double expected_column = 0, expected_row = 0;
      for (int a = 0; a < 3; ++a) {
        expected_column += (p.marker[a] - nearest->geometry.position[a]) * r[a] / nearest->geometry.column_spacing;
        expected_row += (p.marker[a] - nearest->geometry.position[a]) * c[a] / nearest->geometry.row_spacing;
      }
      int best_column = 0, best_row = 0;
      double sum_column = 0, sum_row = 0, weight = 0;
      for (int row = 0; row < nearest->geometry.rows; ++row)
        for (int column = 0; column < nearest->geometry.columns; ++column) {
          const double value = nearest->at(column, row);
          if (value > nearest->at(best_column, best_row)) best_column = column, best_row = row;
          if (value < 100) continue;
          sum_column += value * column, sum_row += value * row, weight += value;
        }
      ASSERT_GT(weight, 0) << what;
      EXPECT_NEAR(sum_column / weight, expected_column, 0.6) << what;
      EXPECT_NEAR(sum_row / weight, expected_row, 0.6) << what;
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

TEST(Reformat, SourceSlicesAreThoseWithinOneSliceOfTheSlab) {
  for (const auto& direction : {kIdentity, kFeetFirst}) {
    const Phantom p = makePhantom(direction);  // 64 slices 1.5 mm apart, centred on z = 0
    ReformatSpec spec;
    spec.plane = ReformatPlane::Axial;
    spec.thickness_mm = 6;
    spec.spacing_mm = 6;
    for (const auto& plane : reformatPlanes(p.volume, spec)) {
      const auto [first, last] = reformatSourceSlices(p.volume, spec, plane);
      ASSERT_LE(first, last);
      // Slice k lies at z = (k - 31.5) * 1.5 (head first) or -(k - 31.5) * 1.5 (feet first).
      const double z = plane.position[2], sign = direction[8];
      for (int k = 0; k < p.volume.dimensions[2]; ++k) {
        const double distance = std::abs(sign * (k - 31.5) * 1.5 - z);
        if (distance <= 3) {
          EXPECT_TRUE(k >= first && k <= last) << "slab at " << z << " misses slice " << k;
        }
        if (distance > 3 + 1.5) {
          EXPECT_FALSE(k >= first && k <= last) << "slab at " << z << " lists slice " << k;
        }
      }
    }
    spec.plane = ReformatPlane::Coronal;  // crosses every axial slice
    const auto coronal = reformatPlanes(p.volume, spec);
    EXPECT_EQ(reformatSourceSlices(p.volume, spec, coronal[coronal.size() / 2]), std::make_pair(0, 63));
    spec.plane = ReformatPlane::Axial;
    PlaneGeometry beyond = reformatPlanes(p.volume, spec).front();
    beyond.position[2] += 500;  // far outside the stack
    const auto [first, last] = reformatSourceSlices(p.volume, spec, beyond);
    EXPECT_GT(first, last);
  }
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
  spec.tilt_deg = 95;
  EXPECT_THROW(reformatPlanes(p.volume, spec), Error);
}

}  // namespace
}  // namespace volnode::test
