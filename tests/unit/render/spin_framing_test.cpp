// Spin frames match the key views; the object fills the frame; annotations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "phantom.hpp"
#include "render_test_support.hpp"

namespace volnode::test {
namespace {

std::shared_ptr<Volume> axialPhantom() {
  static auto v = samplePhantom(columns({1, 0, 0}, {0, 1, 0}, {0, 0, 1}), {1.6, 1.6, 2.0});
  return v;
}

TEST(RenderSpin, FrameZeroEqualsAnteriorAndFrameNineEqualsLeftLateral) {
  auto& r = sharedRenderer();
  r.setVolume(axialPhantom());
  RenderRequest rq = plainRequest(128);
  rq.spin_frames = 36;
  auto spin = r.renderSpin(testMip(), rq);
  ASSERT_EQ(spin.size(), 36u);
  EXPECT_EQ(spin[0].view, "spin-000");
  EXPECT_DOUBLE_EQ(spin[9].angle_deg, 90.0);
  rq.spin_frames = 0;
  const auto anterior = r.renderView(testMip(), View::Anterior, rq);
  const auto left = r.renderView(testMip(), View::Left, rq);
  EXPECT_LT(meanAbsDiff(spin[0], anterior), 0.5);
  EXPECT_LT(meanAbsDiff(spin[9], left), 0.5);
  EXPECT_GT(meanAbsDiff(spin[0], left), 2.0);  // and they are different pictures
}

TEST(RenderSpin, ConfigurableFrameCountTurnsTowardsThePatientsLeft) {
  auto& r = sharedRenderer();
  r.setVolume(axialPhantom());
  RenderRequest rq = plainRequest(128);
  rq.spin_frames = 8;
  auto spin = r.renderSpin(testMip(), rq);
  ASSERT_EQ(spin.size(), 8u);
  rq.spin_frames = 0;
  EXPECT_LT(meanAbsDiff(spin[2], r.renderView(testMip(), View::Left, rq)), 0.5);
  EXPECT_LT(meanAbsDiff(spin[4], r.renderView(testMip(), View::Posterior, rq)), 0.5);
}

// A CPU MIP reuses the opposite view mirrored (frame a + 180, inferior from
// superior): it must be the picture a direct render of that view gives.
TEST(RenderSpin, MirroredMipViewsEqualDirectRenders) {
  auto& r = sharedRenderer();
  r.setVolume(axialPhantom());
  RenderRequest rq = plainRequest(128);
  rq.views = {View::Superior, View::Inferior};
  auto both = r.render(testMip(), rq);
  ASSERT_EQ(both.size(), 2u);
  rq.views = {View::Inferior};
  auto direct = r.render(testMip(), rq);
  ASSERT_EQ(direct.size(), 1u);
  EXPECT_LT(meanAbsDiff(both[1], direct[0]), 0.5);
  EXPECT_GT(meanAbsDiff(both[0], both[1]), 2.0);  // superior and inferior differ (left/right markers)
}

TEST(RenderFraming, ObjectFillsAtLeast80PercentOfTheAnteriorFrame) {
  auto& r = sharedRenderer();
  r.setVolume(axialPhantom());
  auto f = r.renderView(testMip(), View::Anterior, plainRequest(200));
  auto box = brightBox(f, 3);  // body is ~10 grey, air is black
  ASSERT_GE(box[2], 0);
  const double w = (box[2] - box[0] + 1) / 200.0, h = (box[3] - box[1] + 1) / 200.0;
  EXPECT_GE(std::max(w, h), 0.8) << w << " x " << h;
  EXPECT_LE(std::max(w, h), 1.0);
  // Not clipped: a black margin all round.
  EXPECT_GT(box[0], 0);
  EXPECT_GT(box[1], 0);
  EXPECT_LT(box[2], 199);
  EXPECT_LT(box[3], 199);
}

TEST(RenderFraming, NonSquareFramesKeepTheObjectInside) {
  auto& r = sharedRenderer();
  r.setVolume(axialPhantom());
  RenderRequest rq = plainRequest();
  rq.width = 240;
  rq.height = 120;
  auto f = r.renderView(testMip(), View::Anterior, rq);
  ASSERT_EQ(f.pixels.size(), 240u * 120u);
  auto box = brightBox(f, 3);
  EXPECT_GT(box[1], 0);
  EXPECT_LT(box[3], 119);
  EXPECT_GE((box[3] - box[1] + 1) / 120.0, 0.8);
}

TEST(RenderVolume, BonePresetShowsShadedRgbMarkers) {
  auto& r = sharedRenderer();
  r.setVolume(axialPhantom());
  auto bone = loadPreset(std::filesystem::path(VOLNODE_SOURCE_DIR) / "presets", "ct-bone");
  auto f = r.renderView(bone, View::Anterior, plainRequest(160));
  maybeDump(f, "bone-anterior");
  EXPECT_EQ(f.channels, 3);
  // The 1000 HU and 600 HU markers are bone-like: bright blobs; the 40 HU body is transparent.
  auto blobs = findBlobs(f, 30);
  EXPECT_GE(blobs.size(), 2u);
  auto box = brightBox(f, 30);
  EXPECT_LT(box[2] - box[0], 120);  // not the whole body
}

// A cut-away of the patient's left half removes the left marker (image right
// in the anterior view) and keeps the head marker; the MIP ignores it.
TEST(RenderVolume, CutawayHidesThePatientsLeftSide) {
  auto& r = sharedRenderer();
  r.setVolume(axialPhantom());
  auto bone = loadPreset(std::filesystem::path(VOLNODE_SOURCE_DIR) / "presets", "ct-bone");
  const auto whole = findBlobs(r.renderView(bone, View::Anterior, plainRequest(160)), 30);
  ASSERT_GE(whole.size(), 2u);
  auto rightmost = *std::max_element(whole.begin(), whole.end(), [](auto& a, auto& b) { return a.x < b.x; });
  auto topmost = *std::min_element(whole.begin(), whole.end(), [](auto& a, auto& b) { return a.y < b.y; });
  bone.cutaway = {1, 0, 0};
  const auto frame = r.renderView(bone, View::Anterior, plainRequest(160));
  maybeDump(frame, "bone-anterior-cutaway-left");
  const auto cut = findBlobs(frame, 30);
  auto near = [](const std::vector<Blob>& blobs, const Blob& b) {
    return std::any_of(blobs.begin(), blobs.end(),
                       [&](const Blob& c) { return std::hypot(c.x - b.x, c.y - b.y) < 6; });
  };
  EXPECT_FALSE(near(cut, rightmost)) << "the left marker must be cut away";
  EXPECT_TRUE(near(cut, topmost)) << "the head marker must stay";
  auto mip = testMip();
  mip.cutaway = {1, 0, 0};
  EXPECT_LT(meanAbsDiff(r.renderView(mip, View::Anterior, plainRequest(160)),
                        r.renderView(testMip(), View::Anterior, plainRequest(160))),
            0.01);
}

TEST(RenderAnnotations, IdentifiersAreRecordedAndDrawn) {
  auto& r = sharedRenderer();
  r.setVolume(axialPhantom());
  RenderRequest rq = plainRequest(200);
  auto plain = r.renderView(testMip(), View::Anterior, rq);
  EXPECT_FALSE(plain.identifiers_drawn);
  rq.annotation = "PAT-0001 20240101";
  rq.orientation_letters = true;
  rq.preset_label = true;
  auto annotated = r.renderView(testMip(), View::Anterior, rq);
  maybeDump(annotated, "annotated-anterior");
  EXPECT_TRUE(annotated.identifiers_drawn);
  EXPECT_GT(meanAbsDiff(plain, annotated), 0.1);  // text was burned in
  // The top-left corner (annotation line) has white text pixels now.
  int white = 0;
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 100; ++x) white += annotated.pixels[size_t(y) * 200 + x] > 200;
  EXPECT_GT(white, 10);
}

TEST(RenderOutput, WritesPngFiles) {
  auto& r = sharedRenderer();
  r.setVolume(axialPhantom());
  auto dir = std::filesystem::temp_directory_path() / ("volnode-render-png-" + std::to_string(::getpid()));
  auto grey = r.renderView(testMip(), View::Anterior, plainRequest(64));
  auto bone = loadPreset(std::filesystem::path(VOLNODE_SOURCE_DIR) / "presets", "ct-bone");
  auto rgb = r.renderView(bone, View::Left, plainRequest(64));
  writePng(grey, dir / "grey.png");
  writePng(rgb, dir / "rgb.png");
  EXPECT_GT(std::filesystem::file_size(dir / "grey.png"), 50u);
  EXPECT_GT(std::filesystem::file_size(dir / "rgb.png"), 50u);
  std::filesystem::remove_all(dir);
}

TEST(RenderTimings, StagesAreRecorded) {
  auto& r = sharedRenderer();
  r.setVolume(axialPhantom());
  r.resetTimings();
  RenderRequest rq = plainRequest(64);
  rq.spin_frames = 4;
  auto frames = r.render(testMip(), rq);
  EXPECT_EQ(frames.size(), 6u + 4u);
  EXPECT_GT(r.timings().total(), 0);
  EXPECT_GE(r.timings().get("framing"), 0);
  EXPECT_FALSE(r.timings().summary().empty());
  EXPECT_EQ(r.activeBackend(), RenderBackend::Cpu);
}

}  // namespace
}  // namespace volnode::test
