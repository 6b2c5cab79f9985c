// Encapsulated STL: a valid IOD in the source's Frame of Reference, the
// document intact, and the bundle that the CLI writes.
#include <gtest/gtest.h>

#include <cstring>

#include "encode_test_support.hpp"
#include "volnode/mesh/mesh.hpp"

namespace volnode::test {
namespace {

Mesh tetrahedron() {
  Mesh m;
  m.vertices = {0, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0, 10};
  m.triangles = {0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3};
  return m;
}

TEST(EncodeStl, EncapsulatedStlPassesDciodvfyInSourceFrameOfReference) {
  TempDir tmp("encode-stl");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files);
  const auto stl = tmp / "bone.stl";
  const auto stl_size = writeBinaryStl(tetrahedron(), stl);
  MeshInfo info;
  info.threshold = 250;
  const EncodedObject o = encodeStl(identity, planObject("", 9005, "3D model Bone"), stl, info, tmp / "out");
  EXPECT_EQ(o.sop_class_uid, kSopClassEncapsulatedStl);
  expectValid(o.path);
  EXPECT_EQ(stringValue(o.path, DCM_Modality), "M3D");
  EXPECT_EQ(stringValue(o.path, DCM_MIMETypeOfEncapsulatedDocument), "model/stl");
  EXPECT_EQ(stringValue(o.path, DCM_FrameOfReferenceUID), identity.frameOfReferenceUid());
  EXPECT_FALSE(identity.frameOfReferenceUid().empty());
  EXPECT_EQ(stringValue(o.path, DCM_EncapsulatedDocumentLength), std::to_string(stl_size));
  EXPECT_EQ(stringValue(o.path, DCM_StudyInstanceUID), source.study_instance_uid);
  const auto dump = run({"dcmdump", "+P", "0040,08ea", "+P", "0008,0100", o.path.string()});
  EXPECT_NE(dump.output.find("[mm]"), std::string::npos) << dump.output;
  std::string output;
  std::vector<std::filesystem::path> all = source.files;
  all.push_back(o.path);
  EXPECT_TRUE(dcentvfyErrors(all, &output).empty()) << output;

  // The document comes back unchanged.
  DcmFileFormat f;
  ASSERT_TRUE(f.loadFile(o.path.c_str()).good());
  const Uint8* doc = nullptr;
  unsigned long n = 0;
  ASSERT_TRUE(f.getDataset()->findAndGetUint8Array(DCM_EncapsulatedDocument, doc, &n).good());
  std::ifstream in(stl, std::ios::binary);
  std::string original((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(n, original.size());
  EXPECT_EQ(std::memcmp(doc, original.data(), original.size()), 0);
}

TEST(EncodeStl, RefusesAsciiStl) {
  TempDir tmp("encode-ascii");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files.front());
  std::ofstream(tmp / "a.stl") << "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 "
                                  "0\nendloop\nendfacet\nendsolid x\n";
  EXPECT_THROW(encodeStl(identity, planObject("", 9005, "m"), tmp / "a.stl", MeshInfo{}, tmp / "out"), Error);
}

// The outputs of one render, encoded one by one as a render job does: spins, key views
// and the model, each its own series numbered from 9001.
TEST(EncodeOutputs, OneRendersObjectsAreValidNumberedAndConsistentWithSource) {
  TempDir tmp("encode-outputs");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files);
  const auto out = tmp / "out" / "dicom";
  auto frames_info = [](const std::string& preset, RenderKind kind) {
    FramesInfo info;
    info.kind = kind;
    info.preset = preset;
    info.recognizable_visual_features = kind != RenderKind::Mip;
    return info;
  };
  std::vector<EncodedObject> objects;
  objects.push_back(encodeSpin(identity, planObject("", 9001, describeOutput("spin", "ct-bone", RenderKind::VolumeRendering)),
                               makeFrames(12, 32, 32, 3, 30, true), frames_info("ct-bone", RenderKind::VolumeRendering), out));
  objects.push_back(encodeSpin(identity, planObject("", 9002, describeOutput("spin", "ct-mip", RenderKind::Mip)),
                               makeFrames(12, 32, 32, 1, 30, true), frames_info("ct-mip", RenderKind::Mip), out));
  for (auto& o : encodeKeyViews(identity,
                                {planObject("", 9003, describeOutput("key views", "ct-bone", RenderKind::VolumeRendering))},
                                makeFrames(6, 32, 32, 3, 0, true, "view"),
                                frames_info("ct-bone", RenderKind::VolumeRendering), KeyViewsMode::Multiframe, out))
    objects.push_back(std::move(o));
  const auto stl = tmp / "out" / "mesh" / "model.stl";
  std::filesystem::create_directories(stl.parent_path());
  writeBinaryStl(tetrahedron(), stl);
  MeshInfo mesh_info;
  mesh_info.threshold = 250;
  mesh_info.triangles = 4;
  objects.push_back(
      encodeStl(identity, planObject("", 9004, describeOutput("model", "", RenderKind::Surface)), stl, mesh_info, out));

  ASSERT_EQ(objects.size(), 4u);
  const std::vector<std::string> descriptions{"3D VR Bone spin", "3D MIP spin", "3D VR Bone key views", "3D model Bone"};
  const std::vector<std::string> classes{kSopClassMultiframeTrueColorSc, kSopClassMultiframeGrayscaleByteSc,
                                         kSopClassMultiframeTrueColorSc, kSopClassEncapsulatedStl};
  std::vector<std::filesystem::path> all = source.files;
  for (size_t i = 0; i < objects.size(); ++i) {
    EXPECT_EQ(objects[i].path.parent_path(), out);
    EXPECT_EQ(objects[i].series_description, descriptions[i]);
    EXPECT_EQ(objects[i].sop_class_uid, classes[i]);
    EXPECT_EQ(stringValue(objects[i].path, DCM_SeriesNumber), std::to_string(9001 + i));
    expectValid(objects[i].path);
    all.push_back(objects[i].path);
  }
  EXPECT_GT(objects[0].size_bytes, 12u * 32 * 32 * 3);
  EXPECT_EQ(sopClassName(objects[0].sop_class_uid), "MF True Color SC");
  EXPECT_EQ(sopClassName(objects[3].sop_class_uid), "Encapsulated STL");
  std::string output;
  EXPECT_TRUE(dcentvfyErrors(all, &output).empty()) << output;
}

TEST(EncodeOutputs, SingleKeyViewsShareOneSeries) {
  TempDir tmp("encode-single-views");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files.front());
  FramesInfo info;
  info.preset = "ct-bone";
  const auto plans = planSeries("", 9001, "superseding: " + describeOutput("key views", "ct-bone", RenderKind::VolumeRendering), 6);
  const auto objects = encodeKeyViews(identity, plans, makeFrames(6, 16, 16, 3, 0, false, "view"), info,
                                      KeyViewsMode::Single, tmp / "out");
  ASSERT_EQ(objects.size(), 6u);
  for (const auto& o : objects) {
    EXPECT_EQ(o.series_instance_uid, objects[0].series_instance_uid);
    EXPECT_EQ(o.series_description, "superseding: 3D VR Bone key views");
  }
}

}  // namespace
}  // namespace volnode::test
