// Preset files and loader errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "volnode/core/error.hpp"
#include "volnode/render/presets.hpp"

namespace volnode {
namespace {

const std::filesystem::path kPresets = std::filesystem::path(VOLNODE_SOURCE_DIR) / "presets";

std::string errorOf(const std::string& json) {
  try {
    parsePreset(json, "test.json");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::InvalidConfig);
    return e.what();
  }
  return "";
}

const char* kValid = R"({"schema": 1, "name": "x", "blend": "composite",
  "scalar_opacity": [[100, 0], [300, 0.8]], "color": [[100, 1, 0.5, 0.2], [300, 1, 1, 1]]})";

TEST(Presets, AllShippedPresetsLoad) {
  auto presets = loadPresetDirectory(kPresets);
  std::vector<std::string> names;
  for (auto& p : presets) names.push_back(p.name);
  for (const char* required : {"ct-bone", "ct-soft-tissue", "ct-angio", "ct-lung", "ct-mip", "mr-head", "mr-mip"})
    EXPECT_NE(std::find(names.begin(), names.end(), required), names.end()) << required;
  auto mip = loadPreset(kPresets, "ct-mip");
  EXPECT_EQ(mip.blend, BlendMode::MaximumIntensity);
  EXPECT_GT(mip.window_width, 0);
  auto bone = loadPreset(kPresets, "ct-bone");
  EXPECT_EQ(bone.blend, BlendMode::Composite);
  EXPECT_TRUE(bone.shade);
}

TEST(Presets, ValidMinimalPresetParses) {
  auto p = parsePreset(kValid, "test.json");
  EXPECT_EQ(p.name, "x");
  EXPECT_DOUBLE_EQ(p.lowestVisibleValue(), 100);
}

TEST(Presets, ErrorsNameFileFieldAndProblem) {
  EXPECT_NE(errorOf("{").find("test.json: not valid JSON"), std::string::npos);
  EXPECT_NE(errorOf(R"({"name": "x"})").find("test.json: schema: missing"), std::string::npos);
  EXPECT_NE(errorOf(R"({"schema": 2, "name": "x", "blend": "mip"})").find("schema: version 2 is not supported"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"schema": 1, "name": "x", "blend": "average"})").find("blend: expected"), std::string::npos);
  EXPECT_NE(errorOf(R"({"schema": 1, "name": "x", "blend": "mip"})").find("window: missing"), std::string::npos);
  EXPECT_NE(errorOf(R"({"schema": 1, "name": "x", "blend": "mip", "window": {"center": 1, "width": "wide"}})")
                .find("window.width: expected a number, got string"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"schema": 1, "name": "x", "blend": "composite", "color": [[0, 1, 1, 1]],
                        "scalar_opacity": [[0, 0], [100, 1.5]]})")
                .find("scalar_opacity[1].opacity: value 1.5"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"schema": 1, "name": "x", "blend": "composite", "color": [[0, 1, 1, 1]],
                        "scalar_opacity": [[100, 0], [50, 1]]})")
                .find("scalar_opacity[1].value: values must be strictly ascending"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"schema": 1, "name": "x", "blend": "composite", "colour": []})").find("colour: unknown field"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"schema": 1, "name": "x", "blend": "composite", "color": [[0, 1, 1]],
                        "scalar_opacity": [[0, 1]]})")
                .find("color[0]: expected [value, r, g, b]"),
            std::string::npos);
}

TEST(Presets, CutawayNamesPatientSides) {
  auto with = [](const std::string& cutaway) {
    return std::string(R"({"schema": 1, "name": "x", "blend": "composite", "scalar_opacity": [[100, 0], [300, 0.8]],
                          "color": [[100, 1, 0.5, 0.2], [300, 1, 1, 1]], "cutaway": )") +
           cutaway + "}";
  };
  EXPECT_EQ(parsePreset(with(R"(["left", "anterior", "superior"])"), "test.json").cutaway,
            (std::array<int, 3>{1, -1, 1}));
  EXPECT_EQ(parsePreset(with(R"(["posterior"])"), "test.json").cutaway, (std::array<int, 3>{0, 1, 0}));
  EXPECT_FALSE(parsePreset(kValid, "test.json").hasCutaway());
  EXPECT_NE(errorOf(with(R"(["left", "right"])")).find("cutaway[1]: two sides along the same axis"), std::string::npos);
  EXPECT_NE(errorOf(with(R"(["up"])")).find("cutaway[0]: expected left, right"), std::string::npos);
  EXPECT_NE(errorOf(with("[]")).find("cutaway: expected 1 to 3 patient sides"), std::string::npos);
}

TEST(Presets, FileNameMustMatchNameAndMissingPresetListsAvailable) {
  auto dir = std::filesystem::temp_directory_path() / ("volnode-presets-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::FILE* f = std::fopen((dir / "other.json").c_str(), "w");
    std::fputs(kValid, f);
    std::fclose(f);
  }
  try {
    loadPresetFile(dir / "other.json");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("other.json: name: \"x\" does not match"), std::string::npos) << e.what();
  }
  try {
    loadPreset(dir, "ct-nothing");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::NotFound);
    EXPECT_NE(std::string(e.what()).find("available: other"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace volnode
