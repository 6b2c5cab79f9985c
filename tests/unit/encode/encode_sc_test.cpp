// Spins and key views as Secondary Capture: valid IODs, placed in the source study.
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcvrat.h>

#include <set>
#include <thread>

#include "encode_test_support.hpp"

namespace volnode::test {
namespace {

TEST(EncodeSpin, TrueColorSpinPassesDciodvfyWithCineAndAngles) {
  TempDir tmp("encode-spin");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files);
  const auto frames = makeFrames(8, 48, 32, 3, 45, /*identifiers=*/true);
  const ObjectPlan plan = planObject("", 9001, "3D VR Bone spin");
  FramesInfo info;
  info.preset = "ct-bone";
  info.frame_time_ms = 80;
  info.recognizable_visual_features = true;
  const EncodedObject o = encodeSpin(identity, plan, frames, info, tmp / "out");

  EXPECT_EQ(o.sop_class_uid, kSopClassMultiframeTrueColorSc);
  EXPECT_EQ(o.sop_instance_uid, plan.sop_instance_uid);
  EXPECT_EQ(o.frames, 8);
  EXPECT_EQ(o.size_bytes, std::filesystem::file_size(o.path));
  expectValid(o.path);
  EXPECT_EQ(stringValue(o.path, DCM_SOPInstanceUID), plan.sop_instance_uid);
  EXPECT_EQ(stringValue(o.path, DCM_SeriesInstanceUID), plan.series_instance_uid);
  EXPECT_EQ(stringValue(o.path, DCM_NumberOfFrames), "8");
  EXPECT_EQ(stringValue(o.path, DCM_FrameTime), "80");
  EXPECT_EQ(stringValue(o.path, DCM_FramePrimaryAngleVector), "0\\45\\90\\135\\180\\225\\270\\315");
  EXPECT_EQ(stringValue(o.path, DCM_ImageType), "DERIVED\\SECONDARY\\VOLUME RENDERING");
  EXPECT_EQ(stringValue(o.path, DCM_ConversionType), "WSD");
  EXPECT_EQ(stringValue(o.path, DCM_BurnedInAnnotation), "YES");
  EXPECT_EQ(stringValue(o.path, DCM_RecognizableVisualFeatures), "YES");
  EXPECT_EQ(stringValue(o.path, DCM_Modality), "CT");
  EXPECT_EQ(stringValue(o.path, DCM_SeriesNumber), "9001");
  EXPECT_EQ(stringValue(o.path, DCM_SeriesDescription), "3D VR Bone spin");
  EXPECT_EQ(stringValue(o.path, DCM_SecondaryCaptureDeviceSoftwareVersions), VOLNODE_VERSION);
  EXPECT_NE(stringValue(o.path, DCM_SeriesInstanceUID), source.series_instance_uid);
  const auto dump = run({"dcmdump", "+P", "0028,0009", "+P", "0008,9215", o.path.string()});
  EXPECT_NE(dump.output.find("(0018,1063)\\(0018,2003)"), std::string::npos) << dump.output;
  EXPECT_NE(dump.output.find("113074"), std::string::npos) << dump.output;
}

TEST(EncodeSpin, GreyMipSpinIsGrayscaleByteSecondaryCapture) {
  TempDir tmp("encode-mip");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files.front());
  FramesInfo info;
  info.kind = RenderKind::Mip;
  const EncodedObject o = encodeSpin(identity, planObject("", 9002, "3D MIP spin"), makeFrames(6, 40, 40, 1), info,
                                     tmp / "out");
  EXPECT_EQ(o.sop_class_uid, kSopClassMultiframeGrayscaleByteSc);
  expectValid(o.path);
  EXPECT_EQ(stringValue(o.path, DCM_ImageType), "DERIVED\\SECONDARY\\MIP");
  EXPECT_EQ(stringValue(o.path, DCM_PhotometricInterpretation), "MONOCHROME2");
  EXPECT_EQ(stringValue(o.path, DCM_BurnedInAnnotation), "NO");
  const auto dump = run({"dcmdump", "+P", "0008,9215", o.path.string()});
  EXPECT_NE(dump.output.find("113078"), std::string::npos) << dump.output;
}

TEST(EncodeKeyViews, MultiframeKeyViewsAreOneObjectLabelledByView) {
  TempDir tmp("encode-kv");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files);
  auto frames = makeFrames(6, 32, 32, 3, 0, false, "view");
  const char* names[] = {"anterior", "posterior", "left", "right", "superior", "inferior"};
  for (int i = 0; i < 6; ++i) frames[i].view = names[i];
  const auto objects = encodeKeyViews(identity, {planObject("", 9003, "3D VR Bone key views")}, frames, FramesInfo{},
                                      KeyViewsMode::Multiframe, tmp / "out");
  ASSERT_EQ(objects.size(), 1u);
  expectValid(objects[0].path);
  EXPECT_EQ(stringValue(objects[0].path, DCM_NumberOfFrames), "6");
  EXPECT_EQ(stringValue(objects[0].path, DCM_FrameLabelVector), "anterior\\posterior\\left\\right\\superior\\inferior");
}

TEST(EncodeKeyViews, SingleModeWritesOneObjectPerViewInOneSeries) {
  TempDir tmp("encode-kv1");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files);
  auto frames = makeFrames(3, 32, 24, 3, 0, false, "view");
  frames[0].view = "anterior";
  frames[0].edge_letters = {"R", "L", "H", "F"};
  const auto plans = planSeries("", 9004, "3D VR Bone key views", 3);
  const auto objects = encodeKeyViews(identity, plans, frames, FramesInfo{}, KeyViewsMode::Single, tmp / "out");
  ASSERT_EQ(objects.size(), 3u);
  std::set<std::string> sops, series;
  for (size_t i = 0; i < objects.size(); ++i) {
    expectValid(objects[i].path);
    sops.insert(stringValue(objects[i].path, DCM_SOPInstanceUID));
    series.insert(stringValue(objects[i].path, DCM_SeriesInstanceUID));
    EXPECT_EQ(stringValue(objects[i].path, DCM_NumberOfFrames), "1");
    EXPECT_EQ(stringValue(objects[i].path, DCM_InstanceNumber), std::to_string(i + 1));
  }
  EXPECT_EQ(sops.size(), 3u);
  EXPECT_EQ(series.size(), 1u);
  EXPECT_EQ(stringValue(objects[0].path, DCM_PatientOrientation), "L\\F");
  EXPECT_THROW(encodeKeyViews(identity, {plans[0]}, frames, FramesInfo{}, KeyViewsMode::Single, tmp / "out"), Error);
}

TEST(EncodeSpin, RefusesInconsistentFramesAndBadUids) {
  TempDir tmp("encode-bad");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files.front());
  auto frames = makeFrames(2, 16, 16, 3);
  frames[1].width = 8;
  EXPECT_THROW(encodeSpin(identity, planObject("", 9001, "x"), frames, FramesInfo{}, tmp / "out"), Error);
  ObjectPlan bad = planObject("", 9001, "x");
  bad.sop_instance_uid = "1.2.03.4";
  EXPECT_THROW(encodeSpin(identity, bad, makeFrames(2, 16, 16, 3), FramesInfo{}, tmp / "out"), Error);
  EXPECT_THROW(encodeSpin(identity, planObject("", 9001, "x"), {}, FramesInfo{}, tmp / "out"), Error);
}

TEST(EncodeSpin, SamePlanReencodesByteIdenticalObject) {
  TempDir tmp("encode-retry");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files);
  const ObjectPlan plan = planObject("1.2.826.0.1.3680043.10.999", 9001, "3D VR Bone spin");
  EXPECT_EQ(plan.sop_instance_uid.rfind("1.2.826.0.1.3680043.10.999.", 0), 0u);
  const auto frames = makeFrames(4, 16, 16, 3);
  const auto a = encodeSpin(identity, plan, frames, FramesInfo{}, tmp / "a");
  const auto b = encodeSpin(identity, plan, frames, FramesInfo{}, tmp / "b");
  EXPECT_EQ(datasetBytes(a.path), datasetBytes(b.path));
}

TEST(EncodeSpin, LongDescriptionIsCutTo64Characters) {
  TempDir tmp("encode-long");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files.front());
  const std::string description = "superseding 9001 of 2024-01-01 12:00: " + std::string(60, 'x');
  const auto o = encodeSpin(identity, planObject("", 9001, description), makeFrames(2, 16, 16, 3), FramesInfo{},
                            tmp / "out");
  EXPECT_EQ(stringValue(o.path, DCM_SeriesDescription), description.substr(0, 64));
  EXPECT_EQ(o.series_description.size(), 64u);
  expectValid(o.path);
}

}  // namespace
}  // namespace volnode::test
