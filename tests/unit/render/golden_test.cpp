// Golden images: renders of the real shared data compared, with a tolerance,
// to reviewed pictures in tests/data/golden (binary PPM/PGM, small). A change in
// assembly, orientation, framing or presets that alters what a radiologist sees
// fails here. After an intended change, regenerate with VOLNODE_UPDATE_GOLDEN=1
// and look at the new pictures before committing them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "render_test_support.hpp"
#include "support/process.hpp"
#include "volnode/rules/routing_rules.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/volume/preprocess.hpp"

using namespace volnode;
using namespace volnode::test;

namespace {

const std::filesystem::path kGolden = std::filesystem::path(VOLNODE_SOURCE_DIR) / "tests/data/golden";

std::vector<std::filesystem::path> filesOf(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  return files;
}

void writeNetpbm(const RenderedFrame& frame, const std::filesystem::path& file) {
  std::ofstream out(file, std::ios::binary);
  out << (frame.channels == 3 ? "P6" : "P5") << "\n" << frame.width << " " << frame.height << "\n255\n";
  out.write(reinterpret_cast<const char*>(frame.pixels.data()), static_cast<std::streamsize>(frame.pixels.size()));
}

std::vector<uint8_t> readNetpbm(const std::filesystem::path& file, int* width, int* height, int* channels) {
  std::ifstream in(file, std::ios::binary);
  std::string magic;
  int max = 0;
  in >> magic >> *width >> *height >> max;
  in.get();
  *channels = magic == "P6" ? 3 : 1;
  std::vector<uint8_t> pixels(static_cast<size_t>(*width) * *height * *channels);
  in.read(reinterpret_cast<char*>(pixels.data()), static_cast<std::streamsize>(pixels.size()));
  return in ? pixels : std::vector<uint8_t>{};
}

// Mean absolute difference per channel value (0..255), and the share of pixels that differ by more than 64.
void compareWithGolden(const RenderedFrame& frame, const std::string& name) {
  auto golden = kGolden / name;
  if (std::getenv("VOLNODE_UPDATE_GOLDEN")) {
    writeNetpbm(frame, golden);
    GTEST_SKIP() << "golden image written: " << golden;
  }
  int width = 0, height = 0, channels = 0;
  auto expected = readNetpbm(golden, &width, &height, &channels);
  ASSERT_FALSE(expected.empty()) << "missing golden image " << golden;
  ASSERT_EQ(width, frame.width);
  ASSERT_EQ(height, frame.height);
  ASSERT_EQ(channels, frame.channels);
  double total = 0;
  size_t far_off = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    int d = std::abs(int(expected[i]) - int(frame.pixels[i]));
    total += d;
    far_off += d > 64;
  }
  double mean = total / static_cast<double>(expected.size());
  double far_share = static_cast<double>(far_off) / static_cast<double>(expected.size());
  // Software rasterizers differ in the last bits; anatomy, orientation and framing must not.
  EXPECT_LT(mean, 6.0) << name;
  EXPECT_LT(far_share, 0.03) << name;
}

RenderRequest smallRequest() {
  RenderRequest request;
  request.width = request.height = 128;
  request.spin_frames = 0;
  request.annotation = "";
  return request;
}

}  // namespace

TEST(GoldenRender, HeadPhantomCtBoneAnteriorAndLeft) {
  auto volume = assembleVolume(filesOf(sharedData() / "ct-head-phantom-study" / "S2020"));
  auto rule = RuleSet::defaults().match({"CT", "HEAD", "", "", "", "1.2.840.10008.5.1.4.1.1.2", "", {"ORIGINAL"}, 140});
  ASSERT_TRUE(rule);
  auto prepared = preprocess(std::move(volume), rule->preprocess);
  auto& renderer = sharedRenderer();
  renderer.setVolume(std::make_shared<const Volume>(std::move(prepared.volume)));
  auto preset = loadPreset(std::filesystem::path(VOLNODE_SOURCE_DIR) / "presets", "ct-bone");
  compareWithGolden(renderer.renderView(preset, View::Anterior, smallRequest()), "ct-head-phantom-bone-anterior.ppm");
  compareWithGolden(renderer.renderView(preset, View::Left, smallRequest()), "ct-head-phantom-bone-left.ppm");
}

TEST(GoldenRender, SagittalMprageMrHeadAnteriorAndMipLeft) {
  auto volume = assembleVolume(filesOf(sharedData() / "mr-brain-sagittal-mprage"));
  auto& renderer = sharedRenderer();
  renderer.setVolume(std::make_shared<const Volume>(std::move(volume)));
  auto presets = std::filesystem::path(VOLNODE_SOURCE_DIR) / "presets";
  compareWithGolden(renderer.renderView(loadPreset(presets, "mr-head"), View::Anterior, smallRequest()),
                    "mr-mprage-head-anterior.ppm");
  compareWithGolden(renderer.renderView(loadPreset(presets, "mr-mip"), View::Left, smallRequest()),
                    "mr-mprage-mip-left.pgm");
}
