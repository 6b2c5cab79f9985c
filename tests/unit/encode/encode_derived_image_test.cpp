// Reformats written as CT/MR images: valid IODs whose Image Plane attributes place
// a known marker exactly where it is in the source's patient space.
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "encode_test_support.hpp"
#include "volnode/encode/derived_image.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/volume/reformat.hpp"

namespace volnode::test {
namespace {

using Vec3Array = std::array<double, 3>;

// What a written image says about itself, read back with DCMTK.
struct ReadBack {
  Vec3Array position{}, row{}, column{};
  double row_spacing = 0, column_spacing = 0;
  int rows = 0, columns = 0;
  double slope = 1, intercept = 0;
  std::vector<int16_t> pixels;
};

ReadBack readBack(const std::filesystem::path& file) {
  DcmFileFormat f;
  EXPECT_TRUE(f.loadFile(file.c_str()).good()) << file;
  DcmDataset* d = f.getDataset();
  ReadBack r;
  for (int i = 0; i < 3; ++i) {
    d->findAndGetFloat64(DCM_ImagePositionPatient, r.position[i], i);
    d->findAndGetFloat64(DCM_ImageOrientationPatient, r.row[i], i);
    d->findAndGetFloat64(DCM_ImageOrientationPatient, r.column[i], i + 3);
  }
  d->findAndGetFloat64(DCM_PixelSpacing, r.row_spacing, 0);
  d->findAndGetFloat64(DCM_PixelSpacing, r.column_spacing, 1);
  Uint16 rows = 0, columns = 0;
  d->findAndGetUint16(DCM_Rows, rows);
  d->findAndGetUint16(DCM_Columns, columns);
  r.rows = rows;
  r.columns = columns;
  d->findAndGetFloat64(DCM_RescaleSlope, r.slope);
  d->findAndGetFloat64(DCM_RescaleIntercept, r.intercept);
  const Uint16* data = nullptr;
  unsigned long count = 0;
  d->findAndGetUint16Array(DCM_PixelData, data, &count);
  if (data) r.pixels.assign(reinterpret_cast<const int16_t*>(data), reinterpret_cast<const int16_t*>(data) + count);
  return r;
}

// A CT (or MR) series with one bright sphere at `marker`, in water.
WrittenSeries writeMarkerSeries(const std::filesystem::path& dir, const std::array<double, 6>& orientation,
                                const Vec3& marker, const std::string& modality = "CT") {
  SyntheticSeries s;
  s.modality = modality;
  s.rows = s.cols = 64;
  s.slices = 48;
  s.orientation = orientation;
  // The first pixel placed so that the slices are centred on the z axis, whatever the orientation.
  for (int a = 0; a < 3; ++a) s.origin[a] = -31.5 * (orientation[a] + orientation[3 + a]);
  s.origin[2] -= 24;
  if (orientation != std::array<double, 6>{1, 0, 0, 0, 1, 0}) s.stack_direction = Vec3{0, 0, 1};
  s.value = [marker](const Vec3& p) {
    const double d = std::hypot(p[0] - marker[0], p[1] - marker[1], p[2] - marker[2]);
    return d <= 4 ? 1000.0 : 0.0;
  };
  return writeSyntheticSeries(s, dir);
}

// Reformats the series, writes every slice, and returns the value-weighted centre of
// the bright pixels computed only from what the files say (IPP/IOP/PixelSpacing, rescale).
Vec3 markerFromWrittenReformat(const WrittenSeries& source, ReformatPlane plane, const std::filesystem::path& out,
                               std::vector<EncodedObject>* written = nullptr, double tilt_deg = 0,
                               double turn_deg = 0) {
  const OutputIdentity identity = readOutputIdentity(source.files);
  const Volume volume = assembleVolume(source.files);
  ReformatSpec spec;
  spec.plane = plane;
  spec.tilt_deg = tilt_deg;
  spec.turn_deg = turn_deg;
  spec.thickness_mm = 2;
  spec.spacing_mm = 2;
  const auto images = reformatVolume(volume, spec, -1024, 2);
  const auto plans = planSeries("", 9100, "COR 2mm", int(images.size()));
  DerivedImageInfo info;
  info.spacing_between_slices = spec.spacing_mm;
  info.window = DerivedImageInfo::Window{40, 400, "SOFT TISSUE"};
  Vec3 sum{0, 0, 0};
  double weight = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const EncodedObject o = encodeDerivedImage(identity, plans[i], images[i], info, out);
    if (written) written->push_back(o);
    const ReadBack r = readBack(o.path);
    EXPECT_EQ(r.pixels.size(), size_t(r.rows) * r.columns);
    for (int row = 0; row < r.rows; ++row)
      for (int column = 0; column < r.columns; ++column) {
        const double value = r.pixels[size_t(row) * r.columns + column] * r.slope + r.intercept;
        if (value < 100) continue;
        for (int a = 0; a < 3; ++a)
          sum[a] += value * (r.position[a] + column * r.column_spacing * r.row[a] + row * r.row_spacing * r.column[a]);
        weight += value;
      }
  }
  EXPECT_GT(weight, 0);
  return {sum[0] / weight, sum[1] / weight, sum[2] / weight};
}

TEST(EncodeDerivedImage, MarkerIsWhereTheWrittenGeometrySaysAxialAndTiltedSources) {
  const Vec3 marker{9, -7, 5};
  struct Case {
    const char* name;
    std::array<double, 6> orientation;
  } cases[] = {{"axial", {1, 0, 0, 0, 1, 0}},
               {"axial feet first", {-1, 0, 0, 0, 1, 0}},
               {"gantry tilt 20 deg", tiltedAxial(20)}};
  for (const auto& c : cases) {
    TempDir tmp("encode-derived-geometry");
    const auto source = writeMarkerSeries(tmp / "src", c.orientation, marker);
    for (ReformatPlane plane : {ReformatPlane::Coronal, ReformatPlane::Sagittal}) {
      const Vec3 found = markerFromWrittenReformat(source, plane, tmp / reformatPlaneName(plane));
      for (int a = 0; a < 3; ++a)
        EXPECT_NEAR(found[a], marker[a], 0.7) << c.name << " " << reformatPlaneName(plane) << " axis " << a;
    }
  }
}

// Oblique reformats (a base plane tilted and turned by a rule): the written
// ImageOrientationPatient is that plane, the marker is where the files say, and the
// objects stay valid.
TEST(EncodeDerivedImage, ObliqueReformatIsWrittenInItsExactPlaneForHeadFirstFeetFirstAndTiltedSources) {
  const Vec3 marker{9, -7, 5};
  const double s20 = std::sin(20 * M_PI / 180), c20 = std::cos(20 * M_PI / 180);
  const double s25 = std::sin(25 * M_PI / 180), c25 = std::cos(25 * M_PI / 180);
  struct Oblique {
    ReformatPlane plane;
    double tilt, turn;
    Vec3Array row, column;
  } obliques[] = {{ReformatPlane::Coronal, 20, 0, {1, 0, 0}, {0, s20, -c20}},
                  {ReformatPlane::Sagittal, 0, -25, {-s25, c25, 0}, {0, 0, -1}}};
  struct Case {
    const char* name;
    std::array<double, 6> orientation;
  } cases[] = {{"axial", {1, 0, 0, 0, 1, 0}},
               {"axial feet first", {-1, 0, 0, 0, 1, 0}},
               {"gantry tilt 20 deg", tiltedAxial(20)}};
  for (const auto& c : cases) {
    TempDir tmp("encode-derived-oblique");
    const auto source = writeMarkerSeries(tmp / "src", c.orientation, marker);
    for (const auto& o : obliques) {
      const std::string what = std::string(c.name) + ", " + reformatPlaneName(o.plane) + " oblique";
      std::vector<EncodedObject> written;
      const Vec3 found = markerFromWrittenReformat(source, o.plane, tmp / what, &written, o.tilt, o.turn);
      for (int a = 0; a < 3; ++a) EXPECT_NEAR(found[a], marker[a], 0.7) << what << " axis " << a;
      ASSERT_GT(written.size(), 2u);
      const ReadBack first = readBack(written.front().path), second = readBack(written[1].path);
      for (int a = 0; a < 3; ++a) {
        EXPECT_NEAR(first.row[a], o.row[a], 1e-9) << what;
        EXPECT_NEAR(first.column[a], o.column[a], 1e-9) << what;
      }
      // Consecutive slices one spacing (2 mm) apart along the plane's normal.
      const Vec3Array n{o.row[1] * o.column[2] - o.row[2] * o.column[1], o.row[2] * o.column[0] - o.row[0] * o.column[2],
                        o.row[0] * o.column[1] - o.row[1] * o.column[0]};
      double along = 0;
      for (int a = 0; a < 3; ++a) along += (second.position[a] - first.position[a]) * n[a];
      EXPECT_NEAR(along, 2.0, 1e-6) << what;
      if (&c == &cases[2]) expectValid(written[written.size() / 2].path);
    }
  }
}

TEST(EncodeDerivedImage, CtReformatIsValidAndCarriesTheSourceGeometryAndIdentity) {
  TempDir tmp("encode-derived-ct");
  const auto source = writeMarkerSeries(tmp / "src", tiltedAxial(15), {0, 0, 0});
  std::vector<EncodedObject> written;
  markerFromWrittenReformat(source, ReformatPlane::Coronal, tmp / "out", &written);
  ASSERT_GT(written.size(), 10u);
  expectValid(written.front().path);
  expectValid(written[written.size() / 2].path);
  const auto& f = written.front().path;
  EXPECT_EQ(written.front().sop_class_uid, kSopClassCtImage);
  EXPECT_EQ(stringValue(f, DCM_SOPClassUID), kSopClassCtImage);
  EXPECT_EQ(stringValue(f, DCM_ImageType), "DERIVED\\SECONDARY\\REFORMATTED\\AVERAGE");
  EXPECT_EQ(stringValue(f, DCM_ImageOrientationPatient), "1\\0\\0\\0\\0\\-1");
  EXPECT_EQ(stringValue(f, DCM_SliceThickness), "2");
  EXPECT_EQ(stringValue(f, DCM_SpacingBetweenSlices), "2");
  EXPECT_EQ(stringValue(f, DCM_RescaleSlope), "1");
  EXPECT_EQ(stringValue(f, DCM_RescaleIntercept), "0");
  EXPECT_EQ(stringValue(f, DCM_WindowCenter), "40");
  EXPECT_EQ(stringValue(f, DCM_FrameOfReferenceUID), stringValue(source.files.front(), DCM_FrameOfReferenceUID));
  EXPECT_EQ(stringValue(f, DCM_StudyInstanceUID), source.study_instance_uid);
  EXPECT_NE(stringValue(f, DCM_SeriesInstanceUID), source.series_instance_uid);
  EXPECT_EQ(stringValue(f, DCM_SeriesDescription), "COR 2mm");
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile(f.c_str()).good());
  DcmItem* item = nullptr;
  ASSERT_TRUE(file.getDataset()->findAndGetSequenceItem(DCM_ReferencedSeriesSequence, item, 0).good());
  OFString referenced;
  item->findAndGetOFString(DCM_SeriesInstanceUID, referenced);
  EXPECT_EQ(referenced.c_str(), source.series_instance_uid);
  ASSERT_TRUE(file.getDataset()->findAndGetSequenceItem(DCM_SourceImageSequence, item, 0).good());
  ASSERT_TRUE(file.getDataset()->findAndGetSequenceItem(DCM_DerivationCodeSequence, item, 0).good());
  OFString code;
  item->findAndGetOFString(DCM_CodeValue, code);
  EXPECT_EQ(code, "113072");
  // Same patient and study as the source, consistent across the series.
  std::vector<std::filesystem::path> files{source.files.front(), written[0].path, written[1].path};
  EXPECT_TRUE(dcentvfyErrors(files).empty());
  // Consecutive slices 2 mm apart along the normal (0, 1, 0).
  EXPECT_NEAR(readBack(written[1].path).position[1] - readBack(written[0].path).position[1], 2.0, 1e-6);
}

TEST(EncodeDerivedImage, MrSourceGivesAValidMrImageAndMipSlabsSayMip) {
  TempDir tmp("encode-derived-mr");
  const auto source = writeMarkerSeries(tmp / "src", {1, 0, 0, 0, 1, 0}, {3, 4, 5}, "MR");
  const OutputIdentity identity = readOutputIdentity(source.files);
  const Volume volume = assembleVolume(source.files);
  ReformatSpec spec;
  spec.plane = ReformatPlane::Axial;
  spec.mode = SlabMode::Maximum;
  spec.thickness_mm = 10;
  spec.spacing_mm = 10;
  const auto images = reformatVolume(volume, spec, 0, 1);
  DerivedImageInfo info;
  info.kind = DerivedImageKind::MaximumSlab;
  const auto o = encodeDerivedImage(identity, planObject("", 9200, "AX MIP 10mm"), images[images.size() / 2], info,
                                    tmp / "out");
  EXPECT_EQ(o.sop_class_uid, kSopClassMrImage);
  expectValid(o.path);
  EXPECT_EQ(stringValue(o.path, DCM_ImageType), "DERIVED\\SECONDARY\\REFORMATTED\\MIP");
  EXPECT_EQ(stringValue(o.path, DCM_RescaleSlope), "");
  EXPECT_EQ(stringValue(o.path, DCM_SliceThickness), "10");
}

// The real gantry-tilted head CT (18.5 deg, uneven spacing): the bone of the coronal
// reformat, placed by the written IPP/IOP/PixelSpacing, has the centre of the bone
// of the assembled volume, and the reformat is a true coronal plane.
TEST(EncodeDerivedImage, RealGantryTiltedHeadReformatKeepsTheSkullWhereItIs) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(VOLNODE_SHARED_DATA) / "ct-head-gantry-tilt"))
    if (e.path().extension() == ".dcm") files.push_back(e.path());  // not the LICENSE beside them
  const Volume volume = assembleVolume(files);
  Vec3 expected{0, 0, 0};
  double count = 0;
  for (int k = 0; k < volume.dimensions[2]; ++k)
    for (int j = 0; j < volume.dimensions[1]; ++j)
      for (int i = 0; i < volume.dimensions[0]; ++i)
        if (volume.at(i, j, k) > 300) {
          const auto p = volume.physicalPoint(i, j, k);
          for (int a = 0; a < 3; ++a) expected[a] += p[a];
          ++count;
        }
  ASSERT_GT(count, 1000);
  for (double& e : expected) e /= count;

  TempDir tmp("encode-derived-tilt");
  const OutputIdentity identity = readOutputIdentity(files);
  ReformatSpec spec;
  spec.plane = ReformatPlane::Coronal;
  spec.thickness_mm = 0;  // single planes: the centre is not pulled by slab averaging
  spec.spacing_mm = 2;
  const auto images = reformatVolume(volume, spec, -1024, 2);
  const auto plans = planSeries("", 9400, "COR 2mm", int(images.size()));
  Vec3 found{0, 0, 0};
  double found_count = 0;
  for (size_t s = 0; s < images.size(); s += 1) {
    const EncodedObject o = encodeDerivedImage(identity, plans[s], images[s], DerivedImageInfo{}, tmp / "out");
    if (s == 0) {
      expectValid(o.path);
      EXPECT_EQ(stringValue(o.path, DCM_ImageOrientationPatient), "1\\0\\0\\0\\0\\-1");
    }
    const ReadBack r = readBack(o.path);
    for (int row = 0; row < r.rows; row += 2)
      for (int column = 0; column < r.columns; column += 2) {
        if (r.pixels[size_t(row) * r.columns + column] * r.slope + r.intercept <= 300) continue;
        for (int a = 0; a < 3; ++a)
          found[a] += r.position[a] + column * r.column_spacing * r.row[a] + row * r.row_spacing * r.column[a];
        ++found_count;
      }
    std::filesystem::remove(o.path);
  }
  ASSERT_GT(found_count, 100);
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(found[a] / found_count, expected[a], 2.0) << "axis " << a;
}

// A series encoder keeps what the images share and replaces the rest: every file is
// byte for byte what encoding that image alone writes, even when size, plane, thickness
// and description change from one image to the next.
TEST(EncodeDerivedImage, SeriesEncoderWritesWhatEachImageAloneWrites) {
  TempDir tmp("encode-derived-series");
  const auto source = writeMarkerSeries(tmp / "src", tiltedAxial(15), {0, 0, 0});
  const OutputIdentity identity = readOutputIdentity(source.files);
  const Volume volume = assembleVolume(source.files);
  ReformatSpec coronal;
  coronal.thickness_mm = 2;
  coronal.spacing_mm = 2;
  ReformatSpec axial_plane;
  axial_plane.plane = ReformatPlane::Axial;
  axial_plane.thickness_mm = 0;
  axial_plane.spacing_mm = 4;
  const auto cor = reformatVolume(volume, coronal, -1024, 1);
  auto ax = reformatVolume(volume, axial_plane, -1024, 1);
  ASSERT_GT(cor.size(), 4u);
  ASSERT_GT(ax.size(), 4u);
  ASSERT_NE(cor[0].geometry.rows, ax[0].geometry.rows);
  ax[3].geometry.thickness = 0;  // no SliceThickness value
  const std::vector<const PlaneImage*> images{&cor[2], &ax[3], &cor[3], &ax[4]};
  auto plans = planSeries("", 9500, "COR 2mm", int(images.size()));
  plans[1].series_description = "";  // left out of the file: must not stay from the image before
  for (auto& p : plans) p.created = "20260102030405";
  DerivedImageInfo info;
  info.spacing_between_slices = 2;
  info.window = DerivedImageInfo::Window{40, 400, "SOFT TISSUE"};
  auto bytes = [](const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  DerivedImageSeriesEncoder series(identity, info);
  for (size_t i = 0; i < images.size(); ++i) {
    const EncodedObject together = series.encode(plans[i], *images[i], tmp / "series", identity.sourceInstances());
    const EncodedObject alone = encodeDerivedImage(identity, plans[i], *images[i], info, tmp / "alone");
    EXPECT_EQ(together.size_bytes, alone.size_bytes) << "image " << i;
    EXPECT_TRUE(bytes(together.path) == bytes(alone.path)) << "image " << i;
    if (i == 1) {
      expectValid(together.path);
      EXPECT_EQ(stringValue(together.path, DCM_SeriesDescription), "");
      EXPECT_EQ(stringValue(together.path, DCM_SliceThickness), "");
    }
  }
}

TEST(EncodeDerivedImage, BadImagesAreRefusedWithAReason) {
  TempDir tmp("encode-derived-bad");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files);
  PlaneImage image;
  image.geometry.rows = image.geometry.columns = 4;
  image.pixels.assign(15, 0);  // one short
  const ObjectPlan plan = planObject("", 9300, "COR 3mm");
  EXPECT_THROW(encodeDerivedImage(identity, plan, image, {}, tmp / "out"), Error);
  image.pixels.assign(16, 0);
  image.geometry.column_direction = {1, 0, 0};  // parallel to the rows
  EXPECT_THROW(encodeDerivedImage(identity, plan, image, {}, tmp / "out"), Error);
  EXPECT_THROW(derivedImageSopClass("US"), Error);
}

}  // namespace
}  // namespace volnode::test
