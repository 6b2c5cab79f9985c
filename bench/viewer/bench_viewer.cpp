// bench_viewer: how fast does the interactive view answer while a user drags?
// A real `volnode serve` receives the 300-slice 512x512 body phantom over DICOM
// and renders it (the batch render keeps the prepared volume); then, through
// GET /api/series/{uid}/view3d with 512x512 frames:
//   - the first frame of the series, cold (viewer workers started with the node, volume
//     on disk, viewer.prepare_after_render off): the anterior view, which is the batch
//     render's spin frame 0 and read from its file;
//   - 2 s later (a user looks at the first frame before dragging), draft frames (what
//     the page asks for while dragging) at azimuths 5 degrees apart;
//   - full frames (on release) at the same azimuths;
//   - two viewers dragging at once (two threads, each its own sweep);
//   - then a second node with viewer.prepare_after_render on (the default) receives the
//     same series: its first frame once the node has opened the series ahead;
// request to last byte, p50/p95, and the worker's own stages (its Server-Timing header). The anchor, in the same run and process: the plain
// VTK pipeline (vtkFixedPointVolumeRayCastMapper, default settings, ct-bone's
// transfer functions) re-rendering one 512x512 frame per request and reading it back.
//   bench_viewer [--slices N] [--markdown FILE] [--set KEY=VALUE ...]
// --set passes a configuration override to both nodes, e.g. render.cpu_priority=low on
// a machine whose cores other work keeps busy (SCHED_IDLE workers would get no CPU).
// Goals (docs/performance.md): draft p95 <= 80 ms, full p95 <= 400 ms, cold <= 2 s.
#include <vtkCamera.h>
#include <vtkColorTransferFunction.h>
#include <vtkFixedPointVolumeRayCastMapper.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPiecewiseFunction.h>
#include <vtkPointData.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkShortArray.h>
#include <vtkUnsignedCharArray.h>
#include <vtkVolume.h>
#include <vtkVolumeProperty.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "common/ct_body_phantom.hpp"
#include "support/node_process.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/render/display.hpp"
#include "volnode/render/presets.hpp"
#include "volnode/volume/volume.hpp"

using namespace volnode;
using namespace volnode::test;
using Clock = std::chrono::steady_clock;

namespace {

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct Stats {
  size_t n = 0;
  double p50 = 0, p95 = 0, max = 0;
  std::string text() const {
    std::ostringstream s;
    s.precision(0);
    s << std::fixed << "p50 " << p50 << " ms, p95 " << p95 << " ms, max " << max << " ms (n=" << n << ")";
    return s.str();
  }
};

Stats stats(std::vector<double> ms) {
  Stats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, size_t(q * (ms.size() - 1) + 0.5))]; };
  s.n = ms.size();
  s.p50 = at(0.5);
  s.p95 = at(0.95);
  s.max = ms.back();
  return s;
}

// Server-Timing ("open;dur=0.1, render;dur=30.2, encode;dur=2.0"): each stage's ms added to `stages`.
void addServerTiming(const std::string& header, std::map<std::string, std::vector<double>>& stages) {
  std::istringstream parts(header);
  for (std::string part; std::getline(parts, part, ',');) {
    const size_t name_start = part.find_first_not_of(' '), semicolon = part.find(";dur=");
    if (name_start == std::string::npos || semicolon == std::string::npos) continue;
    stages[part.substr(name_start, semicolon - name_start)].push_back(std::atof(part.c_str() + semicolon + 5));
  }
}

// One viewer's sweep: azimuths `from`, from + 5, ... (count frames), latency of each;
// the worker's own stage times (Server-Timing) into `stages` when given.
std::vector<double> sweep(int port, const std::string& uid, const std::string& quality, int from, int count,
                          int* failures, std::map<std::string, std::vector<double>>* stages = nullptr) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(120);
  std::vector<double> ms;
  for (int n = 0; n < count; ++n) {
    const auto t0 = Clock::now();
    auto r = client.Get("/api/series/" + uid + "/view3d?preset=ct-bone&size=512&quality=" + quality +
                        "&azimuth=" + std::to_string(from + 5 * n));
    if (!r || r->status != 200) {
      ++*failures;
      continue;
    }
    ms.push_back(msSince(t0));
    if (stages) addServerTiming(r->get_header_value("Server-Timing"), *stages);
  }
  return ms;
}

// The anchor: a plain VTK fixed-point ray cast of the same phantom, one frame per request.
Stats plainVtkFrames(const RenderPreset& bone, int frames) {
  auto display = DisplayServer::shared();
  Volume vol;
  vol.dimensions = {512, 512, 300};
  vol.spacing = {0.7, 0.7, 1.0};
  vol.voxels.resize(vol.voxelCount());
  size_t n = 0;
  for (int k = 0; k < 300; ++k)
    for (int j = 0; j < 512; ++j)
      for (int i = 0; i < 512; ++i, ++n)
        vol.voxels[n] = int16_t(bench::ctBodyPhantomHu(-179.2 + i * 0.7, -179.2 + j * 0.7, -150 + k * 1.0));
  vtkNew<vtkImageData> image;
  image->SetDimensions(vol.dimensions.data());
  image->SetSpacing(vol.spacing.data());
  vtkNew<vtkShortArray> array;
  array->SetArray(vol.voxels.data(), vtkIdType(vol.voxelCount()), 1);
  image->GetPointData()->SetScalars(array);
  vtkNew<vtkColorTransferFunction> color;
  for (auto& c : bone.color) color->AddRGBPoint(c.value, c.r, c.g, c.b);
  vtkNew<vtkPiecewiseFunction> opacity;
  for (auto& o : bone.scalar_opacity) opacity->AddPoint(o.value, o.y);
  vtkNew<vtkVolumeProperty> property;
  property->SetColor(color);
  property->SetScalarOpacity(opacity);
  property->ShadeOn();
  property->SetInterpolationTypeToLinear();
  vtkNew<vtkFixedPointVolumeRayCastMapper> mapper;
  mapper->SetInputData(image);
  vtkNew<vtkVolume> volume;
  volume->SetMapper(mapper);
  volume->SetProperty(property);
  vtkNew<vtkRenderer> renderer;
  renderer->AddVolume(volume);
  vtkNew<vtkRenderWindow> window;
  window->SetOffScreenRendering(1);
  window->AddRenderer(renderer);
  window->SetSize(512, 512);
  renderer->ResetCamera();
  renderer->GetActiveCamera()->Elevation(-90);
  renderer->GetActiveCamera()->SetViewUp(0, 0, 1);
  renderer->ResetCamera();
  vtkNew<vtkUnsignedCharArray> pixels;
  window->Render();  // the first render builds the mapper's tables: not a request
  std::vector<double> ms;
  for (int f = 0; f < frames; ++f) {
    renderer->GetActiveCamera()->Azimuth(5);
    const auto t0 = Clock::now();
    window->Render();
    window->GetPixelData(0, 0, 511, 511, 1, pixels, 0);
    ms.push_back(msSince(t0));
  }
  return stats(ms);
}

}  // namespace

int main(int argc, char** argv) {
  int slices = 300;
  std::string markdown;
  std::vector<std::string> overrides;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--slices" && i + 1 < argc) slices = std::stoi(argv[++i]);
    else if (a == "--markdown" && i + 1 < argc) markdown = argv[++i];
    else if (a == "--set" && i + 1 < argc) overrides.push_back(argv[++i]);
    else {
      std::cerr << "usage: bench_viewer [--slices N] [--markdown FILE] [--set KEY=VALUE ...]\n";
      return 2;
    }
  }
  TempDir dir("volnode-bench-viewer");
  SyntheticSeries s;
  s.rows = s.cols = 512;
  s.slices = slices;
  s.row_spacing = s.col_spacing = 0.7;
  s.slice_spacing = 1.0;
  s.origin = {-179.2, -179.2, -150};
  s.value = [](const std::array<double, 3>& p) { return bench::ctBodyPhantomHu(p[0], p[1], p[2]); };
  auto series = writeSyntheticSeries(s, dir / "series");
  const std::string uid = series.series_instance_uid;
  // Pushes the series to `node` and waits for its batch render; false on failure.
  auto pushAndRender = [&](NodeProcess& node) {
    auto argv_scu = node.scu("storescu", {"+sd"});
    argv_scu.push_back((dir / "series").string());
    if (run(argv_scu, std::chrono::seconds(600)).exit_code != 0) {
      std::cerr << "storescu failed\n" << node.log();
      return false;
    }
    const auto render_start = Clock::now();
    while (node.get("/api/series/" + uid + "/results").status != 200) {
      if (msSince(render_start) > 1800e3) {
        std::cerr << "the batch render did not finish\n" << node.log();
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    std::cout << "batch render done after " << msSince(render_start) / 1000 << " s\n";
    return true;
  };
  auto settings = [&](std::vector<std::string> own) {
    own.insert(own.end(), overrides.begin(), overrides.end());
    return own;
  };
  NodeProcess node(dir / "node", settings({"completion.quiet_s=1", "completion.release_grace_s=0.5",
                                           "viewer.max_sessions=2", "viewer.prepare_after_render=false"}));
  if (!pushAndRender(node)) return 1;

  int failures = 0;
  std::map<std::string, std::vector<double>> cold_stages;
  const auto cold = sweep(node.consolePort(), uid, "full", 0, 1, &failures, &cold_stages);
  // The user looks at the first frame before dragging (the worker prepares its drafts meanwhile).
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::map<std::string, std::vector<double>> draft_stages, full_stages;
  const auto draft = stats(sweep(node.consolePort(), uid, "draft", 5, 72, &failures, &draft_stages));
  const auto full_ms = sweep(node.consolePort(), uid, "full", 7, 36, &failures, &full_stages);
  const auto full = stats(full_ms);
  std::vector<double> first, second;
  std::thread a([&] { first = sweep(node.consolePort(), uid, "draft", 1, 48, &failures); });
  std::thread b([&] { second = sweep(node.consolePort(), uid, "draft", 181, 48, &failures); });
  a.join();
  b.join();
  std::vector<double> both = first;
  both.insert(both.end(), second.begin(), second.end());
  const auto two = stats(both);
  node.stop();

  // The same series on a node that opens each freshly rendered series ahead.
  NodeProcess prepared_node(dir / "node-prepared",
                            settings({"completion.quiet_s=1", "completion.release_grace_s=0.5", "viewer.max_sessions=2"}));
  if (!pushAndRender(prepared_node)) return 1;
  const std::string prepared_line = "series " + uid + " prepared for the viewer";
  const auto prepare_wait = Clock::now();
  while (prepared_node.log().find(prepared_line) == std::string::npos && msSince(prepare_wait) < 120e3)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const bool was_prepared = prepared_node.log().find(prepared_line) != std::string::npos;
  std::cout << "prepared ahead " << (was_prepared ? "" : "NOT ") << msSince(prepare_wait) / 1000
            << " s after the results appeared\n";
  std::map<std::string, std::vector<double>> prepared_stages;
  const auto first_prepared = sweep(prepared_node.consolePort(), uid, "full", 0, 1, &failures, &prepared_stages);
  prepared_node.stop();

  const auto anchor = plainVtkFrames(loadPreset(std::string(VOLNODE_SOURCE_DIR) + "/presets", "ct-bone"), 24);
  std::ostringstream out;
  out << "| bench_viewer, " << slices << "-slice 512x512 body phantom, 512x512 frames | latency (request to last byte) |\n"
      << "|---|---|\n"
      << "| cold first frame of the series (volume read from the batch render's file) | " << (cold.empty() ? -1 : cold[0]) << " ms |\n"
      << "| first frame of the series opened ahead after its render (viewer.prepare_after_render) | "
      << (first_prepared.empty() || !was_prepared ? -1 : first_prepared[0]) << " ms |\n"
      << "| draft frames (dragging), one viewer | " << draft.text() << " |\n"
      << "| first rendered full frame (the first drag's release; the full renderer's first render) | "
      << (full_ms.empty() ? -1 : full_ms[0]) << " ms |\n"
      << "| full frames (released), one viewer | " << full.text() << " |\n"
      << "| draft frames, two viewers at once | " << two.text() << " |\n"
      << "| plain VTK fixed-point ray cast, one 512x512 frame per request (render + read back) | " << anchor.text()
      << " |\n"
      << "| failed requests | " << failures << " |\n";
  for (const auto& [quality, stages] :
       {std::pair{"cold", &cold_stages}, std::pair{"prepared", &prepared_stages}, std::pair{"draft", &draft_stages},
        std::pair{"full", &full_stages}})
    for (const auto& [stage, ms] : *stages)
      out << "| " << quality << " frames: worker's " << stage << " (Server-Timing) | " << stats(ms).text() << " |\n";
  std::cout << out.str();
  if (!markdown.empty()) std::ofstream(markdown) << out.str();
  return failures == 0 && was_prepared ? 0 : 1;
}
