// `volnode render`: the node's pipeline offline, on real data.
#include <gtest/gtest.h>

#include "support/dicom_files.hpp"
#include "support/process.hpp"

using namespace volnode::test;

TEST(RenderCommand, PhantomStudyGivesPngsDicomObjectsAndAModel) {
  TempDir out;
  std::string series = "1.3.46.670589.33.1.3963937485511329090.25659488233390035616";  // S2020, 1 mm
  auto result = run({VOLNODE_BINARY, "render", (sharedData() / "ct-head-phantom-study" / "S2020").string(), "--out",
                     out.path().string(), "--frames", "12", "--size", "256", "--set", "log.file=", "--set",
                     "outputs.reformats=false", "--set",
                     std::string("pipeline.presets_dir=") + VOLNODE_SOURCE_DIR + "/presets"},
                    std::chrono::seconds(300));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* name : {"ct-bone-anterior.png", "ct-bone-left.png", "ct-bone-superior.png", "ct-mip-spin-009.png",
                           "ct-bone-spin-011.png"})
    EXPECT_TRUE(std::filesystem::exists(out / "png" / series / name)) << name;
  EXPECT_FALSE(std::filesystem::exists(out / "png" / series / "ct-bone-spin-012.png"));
  EXPECT_TRUE(std::filesystem::exists(out / "mesh" / (series + ".stl")));
  auto dicom = filesUnder(out / "dicom");
  ASSERT_EQ(dicom.size(), 4u) << result.output;
  for (const auto& file : dicom) {
    auto verify = run({"dciodvfy", file.string()});
    EXPECT_EQ(verify.output.find("Error"), std::string::npos) << file << "\n" << verify.output;
  }
  // The summary names each object's SOP class and description.
  EXPECT_NE(result.output.find("MF True Color SC"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("Encapsulated STL"), std::string::npos);
  EXPECT_NE(result.output.find("3D VR Bone spin"), std::string::npos);
}

TEST(RenderCommand, FolderWithoutVolumesSaysWhyAndFails) {
  TempDir out;
  auto result = run({VOLNODE_BINARY, "render", (sharedData() / "edge-cases" / "notavolume").string(), "--out",
                     out.path().string(), "--set", "log.file=", "--set",
                     std::string("pipeline.presets_dir=") + VOLNODE_SOURCE_DIR + "/presets"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("not a volume (4 slices at one position)"), std::string::npos) << result.output;
}
