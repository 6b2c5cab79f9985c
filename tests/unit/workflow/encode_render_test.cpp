// Real renders through the encoder: DCMTK reads every frame back, the first
// spin frame decodes to exactly the anterior view, and the phantom CT study's
// renders and bone mesh are valid DICOM in their study.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "unit/encode/encode_test_support.hpp"
#include "volnode/mesh/mesh.hpp"
#include "volnode/render/display.hpp"
#include "volnode/render/presets.hpp"
#include "volnode/render/render.hpp"
#include "volnode/volume/assembly.hpp"

namespace volnode::test {
namespace {

VolumeRenderer& renderer() {
  static std::shared_ptr<DisplayServer> display = DisplayServer::shared();
  static VolumeRenderer r([] {
    VolumeRenderer::Options o;
    o.backend = RenderBackend::Cpu;
    o.display = display;
    return o;
  }());
  return r;
}

RenderPreset preset(const std::string& name) { return loadPreset(std::filesystem::path(VOLNODE_SOURCE_DIR) / "presets", name); }

// Files dcm2pnm wrote for all frames of `file`, in frame order.
std::vector<std::filesystem::path> decodeAllFrames(const std::filesystem::path& file, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const auto r = run({"dcm2pnm", "+Fa", file.string(), (dir / "frame").string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::filesystem::path> frames;
  for (const auto& e : std::filesystem::directory_iterator(dir)) frames.push_back(e.path());
  std::sort(frames.begin(), frames.end(), [](const auto& a, const auto& b) {
    auto number = [](const std::filesystem::path& p) {
      const std::string s = p.stem().string();  // frame.<n>
      return std::stoi(s.substr(s.rfind('.') + 1));
    };
    return number(a) < number(b);
  });
  return frames;
}

std::shared_ptr<Volume> boneBall() {
  auto v = std::make_shared<Volume>();
  v->modality = "CT";
  v->dimensions = {48, 48, 40};
  v->spacing = {1.5, 1.5, 2.0};
  v->origin = {-36, -36, -40};
  v->voxels.resize(v->voxelCount());
  for (int k = 0; k < 40; ++k)
    for (int j = 0; j < 48; ++j)
      for (int i = 0; i < 48; ++i) {
        const auto p = v->physicalPoint(i, j, k);
        const double r = std::sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
        const bool marker = std::abs(p[0] - 20) < 6 && std::abs(p[1]) < 6 && std::abs(p[2]) < 6;  // patient's left
        v->voxels[(size_t(k) * 48 + j) * 48 + i] = int16_t(marker ? 1500 : r < 25 ? 700 : r < 32 ? 40 : -1000);
      }
  return v;
}

TEST(EncodeRender, DcmtkDecodesEverySpinFrameAndTheFirstEqualsTheAnteriorView) {
  TempDir tmp("encode-render");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files);
  auto& r = renderer();
  r.setVolume(boneBall());
  RenderRequest request;
  request.width = request.height = 96;
  request.spin_frames = 8;
  request.views = {View::Anterior};
  request.annotation = "PID-0001";
  const auto frames = r.render(preset("ct-bone"), request);
  ASSERT_EQ(frames.size(), 9u);
  const RenderedFrame& anterior = frames[0];
  ASSERT_EQ(anterior.view, "anterior");
  writePng(anterior, tmp / "anterior.png");
  const std::vector<RenderedFrame> spin(frames.begin() + 1, frames.end());

  const auto o = encodeSpin(identity, planObject("", 9001, "3D VR Bone spin"), spin, FramesInfo{}, tmp / "out");
  expectValid(o.path);
  EXPECT_EQ(stringValue(o.path, DCM_BurnedInAnnotation), anterior.identifiers_drawn ? "YES" : "NO");
  const auto dump = run({"dcmdump", "-M", o.path.string()});
  EXPECT_EQ(dump.exit_code, 0) << dump.output;
  EXPECT_NE(dump.output.find("(0028,0008) IS [8]"), std::string::npos) << dump.output;

  const auto decoded = decodeAllFrames(o.path, tmp / "frames");
  ASSERT_EQ(decoded.size(), 8u);
  for (size_t n = 0; n < decoded.size(); ++n) {
    int w = 0, h = 0, c = 0;
    const auto pixels = readPnm(decoded[n], &w, &h, &c);
    EXPECT_EQ(w, 96);
    EXPECT_EQ(h, 96);
    EXPECT_EQ(c, 3);
    EXPECT_TRUE(pixels == spin[n].pixels) << "frame " << n;
  }
  EXPECT_TRUE(readPnm(decoded[0]) == anterior.pixels) << "first spin frame differs from the anterior view";
}

TEST(EncodeRender, MipSpinDecodesToTheRenderedGreyFrames) {
  TempDir tmp("encode-render-mip");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files.front());
  auto& r = renderer();
  r.setVolume(boneBall());
  RenderRequest request;
  request.width = request.height = 64;
  request.spin_frames = 4;
  request.views = {};
  const auto frames = r.render(preset("ct-mip"), request);
  ASSERT_EQ(frames.size(), 4u);
  ASSERT_EQ(frames[0].channels, 1);
  FramesInfo info;
  info.kind = RenderKind::Mip;
  const auto o = encodeSpin(identity, planObject("", 9002, "3D MIP spin"), frames, info, tmp / "out");
  expectValid(o.path);
  const auto decoded = decodeAllFrames(o.path, tmp / "frames");
  ASSERT_EQ(decoded.size(), 4u);
  for (size_t n = 0; n < decoded.size(); ++n) EXPECT_TRUE(readPnm(decoded[n]) == frames[n].pixels) << "frame " << n;
}

TEST(EncodeRealData, PhantomHeadCtRendersAndBoneMeshAreValidDicomInTheirStudy) {
  const auto dir = sharedData() / "ct-head-phantom-study" / "S2020";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no " << dir;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  const SeriesAssembly assembly = assembleSeries(files);
  const auto renderable = assembly.renderable();
  ASSERT_FALSE(renderable.empty()) << assembly.reason;
  const VolumeCandidate& candidate = *renderable.front();
  ASSERT_TRUE(candidate.volume.has_value());
  const OutputIdentity identity = readOutputIdentity(candidate.files);
  EXPECT_EQ(identity.sourceInstances().size(), candidate.files.size());

  auto volume = std::make_shared<Volume>(*candidate.volume);
  auto& r = renderer();
  r.setVolume(volume);
  RenderRequest request;
  request.width = request.height = 128;
  request.spin_frames = 8;
  request.annotation = "{PatientID}";
  const auto bone = r.render(preset("ct-bone"), request);
  request.views = {};
  const auto mip = r.render(preset("ct-mip"), request);
  ASSERT_EQ(bone.size(), 6u + 8u);

  MeshOptions mesh_options;
  mesh_options.max_triangles = 50'000;
  const MeshResult mesh = extractSurface(*volume, mesh_options);
  ASSERT_FALSE(mesh.mesh.empty());
  EXPECT_LE(mesh.mesh.triangleCount(), 50'000u);
  // The skull lies inside the volume's physical extent.
  const auto b = mesh.mesh.bounds();
  const auto p0 = volume->physicalPoint(0, 0, 0);
  const auto p1 = volume->physicalPoint(volume->dimensions[0] - 1, volume->dimensions[1] - 1, volume->dimensions[2] - 1);
  for (int a = 0; a < 3; ++a) {
    EXPECT_GE(b[a * 2], std::min(p0[a], p1[a]) - 1);
    EXPECT_LE(b[a * 2 + 1], std::max(p0[a], p1[a]) + 1);
  }

  TempDir tmp("encode-phantom");
  const auto out = tmp / "dicom";
  FramesInfo vr;
  vr.preset = "ct-bone";
  vr.recognizable_visual_features = true;
  FramesInfo mip_info;
  mip_info.kind = RenderKind::Mip;
  mip_info.preset = "ct-mip";
  std::vector<EncodedObject> objects;
  for (auto& o : encodeKeyViews(identity, {planObject("", 9001, "3D VR Bone key views")},
                                {bone.begin(), bone.begin() + 6}, vr, KeyViewsMode::Multiframe, out))
    objects.push_back(std::move(o));
  objects.push_back(encodeSpin(identity, planObject("", 9002, "3D VR Bone spin"), {bone.begin() + 6, bone.end()}, vr, out));
  objects.push_back(encodeSpin(identity, planObject("", 9003, "3D MIP spin"), mip, mip_info, out));
  const auto stl = tmp / "model.stl";
  writeBinaryStl(mesh.mesh, stl);
  MeshInfo mesh_info;
  mesh_info.threshold = mesh.threshold;
  mesh_info.triangles = mesh.mesh.triangleCount();
  objects.push_back(encodeStl(identity, planObject("", 9004, "3D model Bone"), stl, mesh_info, out));
  ASSERT_EQ(objects.size(), 4u);
  std::vector<std::filesystem::path> all(candidate.files.begin(), candidate.files.begin() + 3);
  for (const auto& o : objects) {
    expectValid(o.path);
    all.push_back(o.path);
  }
  std::string output;
  EXPECT_TRUE(dcentvfyErrors(all, &output).empty()) << output;
}

TEST(EncodeRealData, MrHeadSkinSurfaceUsesAnAutomaticThresholdAndFitsTheHead) {
  const auto dir = sharedData() / "mr-brain-sagittal-mprage";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no " << dir;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  const Volume volume = assembleVolume(files);
  ASSERT_EQ(volume.modality, "MR");
  MeshOptions options;
  options.max_triangles = 100'000;
  const MeshResult r = extractSurface(volume, options);
  ASSERT_FALSE(r.mesh.empty());
  EXPECT_LE(r.mesh.triangleCount(), 100'000u);
  // Otsu lies between the background and the tissue: above the dark air, far below the maximum.
  const int16_t max = *std::max_element(volume.voxels.begin(), volume.voxels.end());
  EXPECT_GT(r.threshold, 0);
  EXPECT_LT(r.threshold, 0.5 * max);
  // A head: the skin surface spans at least 12 cm in each direction.
  const auto b = r.mesh.bounds();
  for (int a = 0; a < 3; ++a) EXPECT_GT(b[a * 2 + 1] - b[a * 2], 120) << "axis " << a;
  std::cout << "MR skin: threshold " << r.threshold << " of max " << max << ", " << r.mesh.triangleCount()
            << " triangles, extent " << b[1] - b[0] << " x " << b[3] - b[2] << " x " << b[5] - b[4] << " mm\n";
}

}  // namespace
}  // namespace volnode::test
