// The interactive view's query parameters: what is accepted, and every refusal
// names its parameter (the console answers it as 400 with that name).
#include <gtest/gtest.h>

#include "volnode/viewer/view_parameters.hpp"

using namespace volnode::viewer;

namespace {

std::string refusedParameter(const Params& params, bool slice = false) {
  try {
    if (slice) parseSliceParameters(params);
    else parseView3dParameters(params);
  } catch (const ParameterError& e) {
    return e.parameter();
  }
  return "";
}

}  // namespace

TEST(View3dParameters, DefaultsAreTheSpinsAnteriorFrame) {
  auto p = parseView3dParameters({});
  EXPECT_TRUE(p.isSpinCamera());
  EXPECT_EQ(p.azimuth_deg, 0);
  EXPECT_FALSE(p.draft);
  EXPECT_EQ(p.format, ImageFormat::Jpeg);
}

TEST(View3dParameters, ReadsEveryParameter) {
  auto p = parseView3dParameters({{"preset", "ct-mip"},
                                  {"azimuth", "-90"},
                                  {"elevation", "30"},
                                  {"zoom", "2"},
                                  {"pan", "0.1,-0.2"},
                                  {"clip", "-10,10,-20,20,-30,30"},
                                  {"clip_plane", "0,0,0,0,0,2"},
                                  {"shift", "-100"},
                                  {"size", "256"},
                                  {"quality", "draft"},
                                  {"format", "png"}});
  EXPECT_EQ(p.preset, "ct-mip");
  EXPECT_DOUBLE_EQ(p.azimuth_deg, 270);  // -90: the patient's right
  EXPECT_DOUBLE_EQ(p.elevation_deg, 30);
  EXPECT_DOUBLE_EQ(p.zoom, 2);
  EXPECT_DOUBLE_EQ(p.pan_x, 0.1);
  EXPECT_DOUBLE_EQ(p.pan_y, -0.2);
  ASSERT_TRUE(p.clip);
  EXPECT_EQ(p.clip->min, (std::array<double, 3>{-10, -20, -30}));
  EXPECT_EQ(p.clip->max, (std::array<double, 3>{10, 20, 30}));
  ASSERT_TRUE(p.clip_plane);
  EXPECT_EQ(p.clip_plane->normal, (std::array<double, 3>{0, 0, 1}));
  EXPECT_DOUBLE_EQ(p.shift, -100);
  EXPECT_EQ(p.size, 256);
  EXPECT_TRUE(p.draft);
  EXPECT_EQ(p.format, ImageFormat::Png);
  EXPECT_FALSE(p.isSpinCamera());
}

TEST(View3dParameters, RefusalsNameTheParameter) {
  EXPECT_EQ(refusedParameter({{"azimuth", "left"}}), "azimuth");
  EXPECT_EQ(refusedParameter({{"azimuth", "nan"}}), "azimuth");
  EXPECT_EQ(refusedParameter({{"elevation", "91"}}), "elevation");
  EXPECT_EQ(refusedParameter({{"zoom", "0"}}), "zoom");
  EXPECT_EQ(refusedParameter({{"pan", "1"}}), "pan");
  EXPECT_EQ(refusedParameter({{"pan", "9,0"}}), "pan");
  EXPECT_EQ(refusedParameter({{"clip", "1,2,3"}}), "clip");
  EXPECT_EQ(refusedParameter({{"clip", "10,-10,0,1,0,1"}}), "clip");
  EXPECT_EQ(refusedParameter({{"clip_plane", "0,0,0,0,0,0"}}), "clip_plane");
  EXPECT_EQ(refusedParameter({{"shift", "1e9"}}), "shift");
  EXPECT_EQ(refusedParameter({{"size", "4096"}}), "size");
  EXPECT_EQ(refusedParameter({{"size", "100.5"}}), "size");
  EXPECT_EQ(refusedParameter({{"quality", "best"}}), "quality");
  EXPECT_EQ(refusedParameter({{"format", "gif"}}), "format");
  EXPECT_EQ(refusedParameter({{"preset", "../etc/passwd"}}), "preset");
  EXPECT_EQ(refusedParameter({{"azimut", "10"}}), "azimut");
}

TEST(SliceParameters, ReadsAndRefuses) {
  auto p = parseSliceParameters({{"plane", "oblique"}, {"normal", "0,3,4"}, {"position_mm", "-12.5"},
                                 {"window", "40,400"}, {"thickness_mm", "10"}, {"mode", "mip"}});
  EXPECT_EQ(p.plane, SlicePlane::Oblique);
  EXPECT_NEAR(p.normal[1], 0.6, 1e-12);
  EXPECT_NEAR(p.normal[2], 0.8, 1e-12);
  EXPECT_DOUBLE_EQ(*p.position_mm, -12.5);
  EXPECT_EQ(p.mode, SliceMode::Maximum);
  EXPECT_EQ(p.format, ImageFormat::Png);

  EXPECT_EQ(refusedParameter({{"plane", "transverse"}}, true), "plane");
  EXPECT_EQ(refusedParameter({{"plane", "oblique"}}, true), "normal");
  EXPECT_EQ(refusedParameter({{"plane", "axial"}, {"normal", "0,0,1"}}, true), "normal");
  EXPECT_EQ(refusedParameter({{"position_mm", "x"}}, true), "position_mm");
  EXPECT_EQ(refusedParameter({{"window", "40,0"}}, true), "window");
  EXPECT_EQ(refusedParameter({{"thickness_mm", "-1"}}, true), "thickness_mm");
  EXPECT_EQ(refusedParameter({{"mode", "min"}}, true), "mode");
  EXPECT_EQ(refusedParameter({{"through", "1,2"}}, true), "through");
  EXPECT_EQ(refusedParameter({{"through", "1,2,3"}, {"position_mm", "4"}}, true), "through");
  EXPECT_EQ(refusedParameter({{"through", "1,2,1e9"}}, true), "through");
  auto through = parseSliceParameters({{"plane", "coronal"}, {"through", "-10.5,20,30"}});
  ASSERT_TRUE(through.through.has_value());
  EXPECT_DOUBLE_EQ((*through.through)[0], -10.5);
  EXPECT_DOUBLE_EQ((*through.through)[2], 30);
  EXPECT_FALSE(through.position_mm.has_value());
}
