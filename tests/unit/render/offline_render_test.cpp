// Offline rendering of a real study folder (../shared/data).
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "render_test_support.hpp"
#include "volnode/core/error.hpp"
#include "volnode/pipeline/render_offline.hpp"

namespace volnode::test {
namespace {

namespace fs = std::filesystem;

TEST(OfflineRender, WritesKeyViewsAndSpinFramesPerSeries) {
  const fs::path study = fs::path(VOLNODE_SHARED_DATA) / "ct-head-phantom-study";
  if (!fs::exists(study)) GTEST_SKIP() << "no shared data at " << study;
  testDisplay();
  const fs::path out = fs::temp_directory_path() / ("volnode-offline-" + std::to_string(::getpid()));
  OfflineRenderOptions o;
  o.input_dir = study;
  o.out_dir = out;
  o.presets = {"ct-mip"};
  o.size = 96;
  o.frames = 4;
  o.presets_dir = fs::path(VOLNODE_SOURCE_DIR) / "presets";
  o.backend = RenderBackend::Cpu;
  auto result = runOfflineRender(o);
  int rendered = 0;
  for (const auto& s : result.series) {
    if (!s.skipped.empty()) continue;
    ++rendered;
    const fs::path dir = out / "png" / s.series_instance_uid;
    for (const char* v : {"anterior", "posterior", "left", "right", "superior", "inferior"})
      EXPECT_TRUE(fs::exists(dir / (std::string("ct-mip-") + v + ".png"))) << dir << " " << v;
    EXPECT_TRUE(fs::exists(dir / "ct-mip-spin-000.png"));
    EXPECT_TRUE(fs::exists(dir / "ct-mip-spin-003.png"));
    EXPECT_EQ(s.files.size(), 10u);
  }
  EXPECT_GE(rendered, 1);  // the 1 mm and 5 mm recons; localizer and SC are skipped
  EXPECT_GT(result.timings.get("assemble"), 0);
  EXPECT_FALSE(result.summary().empty());
  fs::remove_all(out);
}

TEST(OfflineRender, UnknownPresetOrRuleFailsBeforeRendering) {
  OfflineRenderOptions o;
  o.input_dir = fs::temp_directory_path();
  o.out_dir = fs::temp_directory_path() / "unused";
  o.presets_dir = fs::path(VOLNODE_SOURCE_DIR) / "presets";
  o.presets = {"ct-nothing"};
  EXPECT_THROW(runOfflineRender(o), Error);
  o.presets.clear();
  o.rule = "no-such-rule";
  EXPECT_THROW(runOfflineRender(o), Error);
}

}  // namespace
}  // namespace volnode::test
