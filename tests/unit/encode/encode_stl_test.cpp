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

TEST(EncodeBundle, WritesDicomAndMeshFoldersAllValidAndConsistentWithSource) {
  TempDir tmp("encode-bundle");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files);
  BundleInput input;
  input.spins.push_back({"ct-bone", RenderKind::VolumeRendering, makeFrames(12, 32, 32, 3, 30, true)});
  input.spins.push_back({"ct-mip", RenderKind::Mip, makeFrames(12, 32, 32, 1, 30, true)});
  input.key_views.push_back({"ct-bone", RenderKind::VolumeRendering, makeFrames(6, 32, 32, 3, 0, true, "view")});
  const Mesh mesh = tetrahedron();
  input.mesh = &mesh;
  input.mesh_info.threshold = 250;
  BundleOptions options;
  options.series_number_base = 9001;
  options.recognizable_visual_features = true;
  const BundleResult r = writeEncodedBundle(identity, input, options, tmp / "out");
  ASSERT_EQ(r.objects.size(), 4u);
  ASSERT_EQ(r.meshes.size(), 1u);
  EXPECT_EQ(r.meshes[0].parent_path(), tmp / "out" / "mesh");
  const std::vector<std::string> descriptions{"3D VR Bone spin", "3D MIP spin", "3D VR Bone key views", "3D model Bone"};
  std::vector<std::filesystem::path> all = source.files;
  for (size_t i = 0; i < r.objects.size(); ++i) {
    EXPECT_EQ(r.objects[i].path.parent_path(), tmp / "out" / "dicom");
    EXPECT_EQ(r.objects[i].series_description, descriptions[i]);
    EXPECT_EQ(stringValue(r.objects[i].path, DCM_SeriesNumber), std::to_string(9001 + i));
    expectValid(r.objects[i].path);
    all.push_back(r.objects[i].path);
  }
  const auto lines = r.summary();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3].sop_class_uid, kSopClassEncapsulatedStl);
  EXPECT_GT(lines[0].size_bytes, 12u * 32 * 32 * 3);
  EXPECT_NE(r.summaryText().find("MF True Color SC"), std::string::npos) << r.summaryText();
  std::string output;
  EXPECT_TRUE(dcentvfyErrors(all, &output).empty()) << output;
}

TEST(EncodeBundle, SingleKeyViewsShareOneSeries) {
  TempDir tmp("encode-bundle1");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files.front());
  BundleInput input;
  input.key_views.push_back({"ct-bone", RenderKind::VolumeRendering, makeFrames(6, 16, 16, 3, 0, false, "view")});
  BundleOptions options;
  options.key_views = KeyViewsMode::Single;
  options.description_prefix = "superseding: ";
  const BundleResult r = writeEncodedBundle(identity, input, options, tmp / "out");
  ASSERT_EQ(r.objects.size(), 6u);
  for (const auto& o : r.objects) {
    EXPECT_EQ(o.series_instance_uid, r.objects[0].series_instance_uid);
    EXPECT_EQ(o.series_description, "superseding: 3D VR Bone key views");
  }
}

}  // namespace
}  // namespace volnode::test
