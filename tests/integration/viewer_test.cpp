// The interactive view through a real node: frames and slices rendered by its
// viewer worker processes from the volume its batch render kept, checked against
// the batch render's own spin frames and against where the orientation phantom's
// markers lie in patient coordinates; bad parameters, tokens and launch scopes.
#include <gtest/gtest.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "support/node_api.hpp"
#include "support/node_process.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/viewer/frame_encoding.hpp"

using namespace volnode::test;
using volnode::viewer::decodeImage;
using volnode::viewer::DecodedImage;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr char kViewerToken[] = "viewer-test-console-token";
constexpr char kSecret[] = "viewer-test-launch-secret";

// One node for the whole suite: a render of the phantom takes seconds.
class InteractiveView : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("volnode-it-viewer");
    node_ = new NodeProcess(*dir_ / "node", {std::string("console.token=") + kViewerToken,
                                             std::string("console.launch_secret=") + kSecret,
                                             "console.read_requires_token=true", "render.size=256",
                                             "render.spin_frames=36", "completion.quiet_s=1",
                                             "completion.release_grace_s=0.5", "viewer.max_sessions=2"});
    SyntheticSeries s;
    s.rows = s.cols = 96;
    s.slices = 70;
    s.row_spacing = s.col_spacing = 1.5;
    s.slice_spacing = 2.0;
    s.origin = {-71.25, -71.25, -69};
    s.value = OrientationPhantom{}.function();
    series_ = new WrittenSeries(writeSyntheticSeries(s, *dir_ / "series"));
    SyntheticSeries other;  // a second study, which a launch link for the first never reaches
    other.rows = other.cols = 16;
    other.slices = 4;
    other_ = new WrittenSeries(writeSyntheticSeries(other, *dir_ / "other"));
    for (const char* folder : {"series", "other"}) {
      ASSERT_NO_FATAL_FAILURE(pushFolder(*node_, *dir_ / folder));
    }
    // Wait for the batch render (and with it the prepared volume file).
    const auto deadline = std::chrono::steady_clock::now() + 180s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = get("/api/series/" + series_->series_instance_uid + "/results");
      if (r && r->status == 200) {
        results_ = new json(json::parse(r->body));
        break;
      }
      std::this_thread::sleep_for(200ms);
    }
    ASSERT_NE(results_, nullptr) << node_->log();
    // The results are listed before the render job ends (it keeps its prepared volume
    // last); the node opens the series ahead in a viewer worker once the job has ended,
    // before any test opens it itself.
    const std::string prepared = "series " + series_->series_instance_uid + " prepared for the viewer";
    const auto prepared_by = std::chrono::steady_clock::now() + 60s;
    while (node_->log().find(prepared) == std::string::npos && std::chrono::steady_clock::now() < prepared_by)
      std::this_thread::sleep_for(100ms);
  }
  static void TearDownTestSuite() {
    delete results_;
    delete other_;
    delete series_;
    delete node_;
    delete dir_;
  }

  static httplib::Result get(const std::string& path, const httplib::Headers& headers = {{"Authorization", std::string("Bearer ") + kViewerToken}}) {
    httplib::Client client("127.0.0.1", node_->consolePort());
    client.set_read_timeout(120);
    return client.Get(path, headers);
  }
  static std::string view3d(const std::string& query) {
    return "/api/series/" + series_->series_instance_uid + "/view3d?" + query;
  }
  static std::string slice(const std::string& query) {
    return "/api/series/" + series_->series_instance_uid + "/slice?" + query;
  }
  static DecodedImage image(const std::string& path) {
    auto r = get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << path << ": " << r->body.substr(0, 300);
    if (r->status != 200) return {};
    return decodeImage(r->body);
  }
  // A spin frame of the batch render, as the viewer page fetches it.
  static std::string spinFrame(const std::string& preset, int index) {
    for (const auto& images : (*results_)["images"])
      if (images["preset"] == preset) {
        auto r = get(images["spin"][index].get<std::string>());
        return r && r->status == 200 ? r->body : "";
      }
    return "";
  }

  // Mean brightness of a box of the image (fractions of width and height).
  static double meanIn(const DecodedImage& im, double x0, double x1, double y0, double y1) {
    double sum = 0;
    int n = 0;
    for (int y = int(y0 * im.height); y < int(y1 * im.height); ++y)
      for (int x = int(x0 * im.width); x < int(x1 * im.width); ++x, ++n) sum += im.at(x, y);
    return n ? sum / n : 0;
  }

  static TempDir* dir_;
  static NodeProcess* node_;
  static WrittenSeries* series_;
  static WrittenSeries* other_;
  static json* results_;
};

TempDir* InteractiveView::dir_ = nullptr;
NodeProcess* InteractiveView::node_ = nullptr;
WrittenSeries* InteractiveView::series_ = nullptr;
WrittenSeries* InteractiveView::other_ = nullptr;
json* InteractiveView::results_ = nullptr;

}  // namespace

TEST_F(InteractiveView, Azimuth0And90AreTheSpinsFrames0And9OfTheSamePreset) {
  // Exactly a spin frame's camera: the viewer answers with the batch render's file.
  std::map<std::string, std::string> spins;  // "<preset> <frame>" -> PNG bytes
  for (const std::string preset : {"ct-bone", "ct-mip"})
    for (auto [azimuth, frame] : {std::pair{0, 0}, std::pair{90, 9}}) {
      const std::string spin = spinFrame(preset, frame);
      ASSERT_FALSE(spin.empty());
      spins[preset + " " + std::to_string(frame)] = spin;
      auto r = get(view3d("preset=" + preset + "&azimuth=" + std::to_string(azimuth) + "&format=png"));
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << r->body;
      EXPECT_EQ(r->get_header_value("X-Volume-Source"), "spin-frame");
      EXPECT_EQ(r->body, spin) << preset << " azimuth " << azimuth;
      EXPECT_EQ(r->get_header_value("X-Orientation-Letters"), azimuth == 0 ? "R,L,H,F" : "A,P,H,F");
    }
  // Without those files the viewer renders the same pictures: one renderer, one set of pictures.
  std::vector<std::filesystem::path> moved;
  for (const auto& job : std::filesystem::directory_iterator(*dir_ / "node" / "var" / "results"))
    if (std::filesystem::exists(job.path() / "png")) {
      std::filesystem::rename(job.path() / "png", job.path() / "png-away");
      moved.push_back(job.path());
    }
  ASSERT_FALSE(moved.empty());
  for (const std::string preset : {"ct-bone", "ct-mip"}) {
    for (auto [azimuth, frame] : {std::pair{0, 0}, std::pair{90, 9}}) {
      auto r = get(view3d("preset=" + preset + "&azimuth=" + std::to_string(azimuth) + "&format=png"));
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << r->body;
      EXPECT_NE(r->get_header_value("X-Volume-Source"), "spin-frame");
      const std::string spin = spins[preset + " " + std::to_string(frame)];
      // The same PNG encoder at the same settings: equal files are equal pixels.
      if (r->body != spin) {
        auto a = decodeImage(r->body), b = decodeImage(spin);
        ASSERT_EQ(a.pixels.size(), b.pixels.size());
        size_t differing = 0;
        for (size_t n = 0; n < a.pixels.size(); ++n) differing += a.pixels[n] != b.pixels[n];
        ADD_FAILURE() << preset << " azimuth " << azimuth << ": " << differing << " of " << a.pixels.size()
                      << " values differ from spin frame " << frame;
      }
      // And as JPEG (what the page asks for) the same picture up to compression.
      auto jpeg = image(view3d("preset=" + preset + "&azimuth=" + std::to_string(azimuth)));
      auto png = decodeImage(spin);
      ASSERT_EQ(jpeg.width, png.width);
      double error = 0;
      for (int y = 0; y < png.height; ++y)
        for (int x = 0; x < png.width; ++x)
          for (int c = 0; c < png.channels; ++c) error += std::abs(int(jpeg.at(x, y, c % jpeg.channels)) - png.at(x, y, c));
      EXPECT_LT(error / (png.width * png.height * png.channels), 3.0) << preset << " azimuth " << azimuth;
    }
  }
  for (const auto& job : moved) std::filesystem::rename(job / "png-away", job / "png");
}

TEST_F(InteractiveView, TheMipShowsTheLeftAndHeadMarkersWhereTheyBelong) {
  // The phantom spans 120 mm head to foot, framed at 0.9 of the frame: 1 mm is
  // about 1/133 of the frame. Markers: left x = +38, anterior y = -28, head z = +48.
  // Anterior view: the patient's left on the image's right, the head up.
  auto anterior = image(view3d("preset=ct-mip&azimuth=0&format=png"));
  ASSERT_GT(anterior.width, 0);
  EXPECT_GT(meanIn(anterior, 0.72, 0.86, 0.43, 0.57), meanIn(anterior, 0.14, 0.28, 0.43, 0.57) + 40)
      << "left marker on the image's right";
  EXPECT_GT(meanIn(anterior, 0.43, 0.57, 0.08, 0.22), meanIn(anterior, 0.43, 0.57, 0.78, 0.92) + 40)
      << "head marker at the top";
  // From the patient's left (azimuth 90): anterior on the image's left, the head still up.
  auto left = image(view3d("preset=ct-mip&azimuth=90&format=png"));
  ASSERT_GT(left.width, 0);
  EXPECT_GT(meanIn(left, 0.22, 0.36, 0.43, 0.57), meanIn(left, 0.64, 0.78, 0.43, 0.57) + 40)
      << "anterior marker on the image's left";
  EXPECT_GT(meanIn(left, 0.43, 0.57, 0.08, 0.22), meanIn(left, 0.43, 0.57, 0.78, 0.92) + 40) << "head marker at the top";
  // From above (elevation 90, azimuth 0): the head marker faces the viewer, the left marker on the right.
  auto above = image(view3d("preset=ct-mip&elevation=90&format=png"));
  ASSERT_GT(above.width, 0);
  EXPECT_GT(meanIn(above, 0.72, 0.86, 0.4, 0.6), meanIn(above, 0.14, 0.28, 0.4, 0.6) + 40)
      << "left marker on the right seen from above";
}

TEST_F(InteractiveView, AClipBoxHidesWhatItCuts) {
  // Everything right of x = 20 mm is cut: the left marker (x = 38) goes, the head marker stays.
  auto clipped = image(view3d("preset=ct-mip&azimuth=0&format=png&clip=-200,20,-200,200,-200,200"));
  auto whole = image(view3d("preset=ct-mip&azimuth=0&format=png"));
  ASSERT_GT(clipped.width, 0);
  ASSERT_GT(whole.width, 0);
  EXPECT_GT(meanIn(whole, 0.75, 0.95, 0.4, 0.6), 2 * meanIn(clipped, 0.75, 0.95, 0.4, 0.6) + 1)
      << "the cut part is dark";
  EXPECT_NEAR(meanIn(clipped, 0.4, 0.6, 0.05, 0.4), meanIn(whole, 0.4, 0.6, 0.05, 0.4), 2.0)
      << "the rest is unchanged and the framing stays";
}

TEST_F(InteractiveView, SlicesPutTheMarkersAtThePixelsTheirPatientCoordinatesGive) {
  const OrientationPhantom phantom;
  struct Case {
    std::string plane;
    double position;
    std::array<double, 3> marker;
  };
  for (const auto& c : {Case{"axial", phantom.leftMarker()[2], phantom.leftMarker()},
                        Case{"coronal", phantom.headMarker()[1], phantom.headMarker()},
                        Case{"sagittal", phantom.anteriorMarker()[0], phantom.anteriorMarker()}}) {
    auto r = get(slice("plane=" + c.plane + "&position_mm=" + std::to_string(c.position) + "&window=40,400"));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << c.plane << ": " << r->body;
    auto numbers = [&](const std::string& header) {
      std::array<double, 3> v{};
      std::istringstream in(r->get_header_value(header));
      char comma;
      in >> v[0] >> comma >> v[1] >> comma >> v[2];
      return v;
    };
    const auto origin = numbers("X-Slice-Origin"), right = numbers("X-Slice-Right"), down = numbers("X-Slice-Down");
    const double pixel_mm = std::stod(r->get_header_value("X-Slice-Pixel-Spacing"));
    double column = 0, row = 0;
    for (int a = 0; a < 3; ++a) {
      column += (c.marker[a] - origin[a]) * right[a] / pixel_mm;
      row += (c.marker[a] - origin[a]) * down[a] / pixel_mm;
    }
    auto im = decodeImage(r->body);
    ASSERT_GE(column, 0);
    ASSERT_LT(column, im.width);
    EXPECT_EQ(im.at(int(std::lround(column)), int(std::lround(row))), 255) << c.plane;
  }
  auto axial = get(slice("plane=axial"));
  ASSERT_TRUE(axial);
  EXPECT_EQ(axial->get_header_value("X-Orientation-Letters"), "R,L,A,P");
}

TEST_F(InteractiveView, BadParametersAre400NamingTheParameter) {
  for (auto [path, parameter] : std::vector<std::pair<std::string, std::string>>{
           {view3d("azimuth=left"), "azimuth"},
           {view3d("zoom=0"), "zoom"},
           {view3d("clip=1,2"), "clip"},
           {view3d("quality=best"), "quality"},
           {view3d("preset=no-such-preset"), "preset"},
           {view3d("azimuth=1&azimuth=2"), "azimuth"},
           {slice("plane=transverse"), "plane"},
           {slice("position_mm=5000"), "position_mm"}}) {
    auto r = get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 400) << path;
    auto body = json::parse(r->body, nullptr, false);
    EXPECT_EQ(body.value("parameter", ""), parameter) << path << ": " << r->body;
    EXPECT_NE(body.value("error", "").find(parameter), std::string::npos) << r->body;
  }
  auto unknown = get("/api/series/1.2.3.4.5/view3d");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
}

TEST_F(InteractiveView, TokensAndLaunchScopesAreEnforced) {
  auto anonymous = get(view3d("azimuth=0"), {});
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  // A launch link for the phantom's study opens its series, and not the other study's.
  httplib::Client client("127.0.0.1", node_->consolePort());
  client.set_read_timeout(120);
  auto minted = client.Post("/api/launch-tokens", {{"Authorization", std::string("Bearer ") + kViewerToken}},
                            json{{"studyUID", series_->study_instance_uid}}.dump(), "application/json");
  ASSERT_TRUE(minted);
  ASSERT_EQ(minted->status, 201) << minted->body;
  const std::string url = json::parse(minted->body)["url"];
  auto launched = client.Get(url.substr(url.find("/launch")));
  ASSERT_TRUE(launched);
  ASSERT_EQ(launched->status, 303);
  const std::string set_cookie = launched->get_header_value("Set-Cookie");
  const httplib::Headers browser{{"Cookie", set_cookie.substr(0, set_cookie.find(';'))}};
  auto own = get(view3d("azimuth=30&quality=draft"), browser);
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 200);
  EXPECT_EQ(own->get_header_value("Content-Type"), "image/jpeg");
  for (const std::string& path : {"/api/series/" + other_->series_instance_uid + "/view3d?azimuth=0",
                                  "/api/series/" + other_->series_instance_uid + "/slice?plane=axial"}) {
    auto foreign = get(path, browser);
    ASSERT_TRUE(foreign);
    EXPECT_EQ(foreign->status, 403) << path;
  }
}

TEST_F(InteractiveView, VolumeRenderingClipZoomPanAndShiftChangeOnlyTheirFrame) {
  // ct-bone shows only the three markers, framed on them: the head marker top left,
  // the anterior marker bottom left, the left marker bottom right (anterior view).
  const auto whole = image(view3d("preset=ct-bone&format=png"));
  ASSERT_GT(whole.width, 0);
  auto brightness = [](const DecodedImage& im, double x0, double x1, double y0, double y1) {
    double sum = 0;
    int n = 0;
    for (int y = int(y0 * im.height); y < int(y1 * im.height); ++y)
      for (int x = int(x0 * im.width); x < int(x1 * im.width); ++x, ++n)
        for (int c = 0; c < im.channels; ++c) sum += im.at(x, y, c);
    return n ? sum / n : 0;
  };
  // Columns holding the markers (rows 10 % .. 90 %, clear of the letters): first and last.
  auto markerColumns = [](const DecodedImage& im) {
    int first = im.width, last = -1;
    for (int y = im.height / 10; y < im.height * 9 / 10; ++y)
      for (int x = im.width / 10; x < im.width * 9 / 10; ++x)
        if (im.at(x, y, 0) > 80) first = std::min(first, x), last = std::max(last, x);
    return std::pair{first, last};
  };
  const double left_marker = brightness(whole, 0.6, 0.95, 0.6, 0.95);
  ASSERT_GT(left_marker, 20);
  // The VTK mapper's clipping planes: everything left of x = 20 mm is kept, the left marker (x = 38) goes.
  const auto clipped = image(view3d("preset=ct-bone&format=png&clip=-200,20,-200,200,-200,200"));
  ASSERT_GT(clipped.width, 0);
  EXPECT_LT(brightness(clipped, 0.6, 0.95, 0.6, 0.95), left_marker / 4);
  EXPECT_NEAR(brightness(clipped, 0.05, 0.4, 0.05, 0.4), brightness(whole, 0.05, 0.4, 0.05, 0.4), 3.0)
      << "the head marker stays, at the same place";
  // Zoom 0.5 draws them at half the distance; a pan of an eighth frame moves them right by an eighth.
  const auto [first, last] = markerColumns(whole);
  const auto zoomed = markerColumns(image(view3d("preset=ct-bone&format=png&zoom=0.5")));
  EXPECT_NEAR(zoomed.second - zoomed.first, (last - first) / 2.0, 4) << first << ".." << last;
  const auto panned = markerColumns(image(view3d("preset=ct-bone&format=png&pan=0.125,0")));
  EXPECT_NEAR(panned.first - first, whole.height / 8, 3);
  // A shift of the transfer function changes the picture; the next unshifted frame is the first one again.
  const auto shifted = image(view3d("preset=ct-bone&format=png&shift=-1100"));
  EXPECT_NE(shifted.pixels, whole.pixels);
  EXPECT_EQ(image(view3d("preset=ct-bone&format=png")).pixels, whole.pixels);
}

TEST_F(InteractiveView, AFreshRenderIsOpenedAheadAndBoneRemovedPresetsRenderTheCtWithoutItsBone) {
  // viewer.prepare_after_render (default on): the node opens the series whose
  // render just succeeded in an idle viewer worker (SetUpTestSuite waits for it), so
  // its first frame is warm.
  const std::string prepared = "series " + series_->series_instance_uid + " prepared for the viewer";
  ASSERT_NE(node_->log().find(prepared), std::string::npos) << node_->log();
  auto first = get(view3d("azimuth=5"));  // not a spin frame (those are read from the render's files)
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body.substr(0, 300);
  EXPECT_EQ(first->get_header_value("X-Volume-Source"), "memory") << "the first frame asked for is a warm one";

  // The phantom's markers are 1500 HU spheres in 40 HU tissue: bone to the bone
  // removal (dense, touching no contrast-filled lumen). The plain MIP shows the left
  // marker on the image's right; the bone-removed MIP shows the tissue alike on both
  // sides. The series' render kept no bone-removed volume (its rule is not a CT
  // angiography), so the first such frame removes the bone, the next finds it held.
  auto with_bone = image(view3d("preset=ct-mip&azimuth=3&format=png"));  // rendered: not a spin frame's angle
  ASSERT_GT(with_bone.width, 0);
  EXPECT_GT(meanIn(with_bone, 0.72, 0.86, 0.43, 0.57), meanIn(with_bone, 0.14, 0.28, 0.43, 0.57) + 40);

  auto removed = get(view3d("preset=ct-angio-mip&azimuth=0&format=png"));
  ASSERT_TRUE(removed);
  ASSERT_EQ(removed->status, 200) << removed->body.substr(0, 300);
  EXPECT_EQ(removed->get_header_value("X-Volume"), "bone-removed");
  EXPECT_EQ(removed->get_header_value("X-Volume-Source"), "bone-removed-here");
  const auto without_bone = decodeImage(removed->body);
  const double left = meanIn(without_bone, 0.72, 0.86, 0.43, 0.57), right = meanIn(without_bone, 0.14, 0.28, 0.43, 0.57);
  EXPECT_NEAR(left, right, 10) << "the left marker is gone";
  EXPECT_GT(right, 10) << "the tissue is still there";

  auto again = get(view3d("preset=ct-angio-mip&azimuth=90&format=png"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(again->get_header_value("X-Volume-Source"), "memory");
  auto plain = get(view3d("preset=ct-mip&azimuth=3&format=png"));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->get_header_value("X-Volume"), "as-acquired");
  EXPECT_EQ(decodeImage(plain->body).pixels, with_bone.pixels) << "the volume with its bone is unchanged beside the other";
}
