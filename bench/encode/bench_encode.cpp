// Encode benchmark: renders the default CT bundle of one series (ct-bone spin +
// 6 key views, ct-mip spin + 6 key views) and times every encode stage against
// the render: DICOM spins, key views, surface extraction, STL write and encode.
//
//   bench_encode --series DIR [--frames N] [--size N] [--triangles N] [--out DIR] [--preprocess] [--raw-factor X]
// e.g. bench_encode --series ../shared/data/ct-head-phantom-study/S2020
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "volnode/encode/encode.hpp"
#include "volnode/mesh/mesh.hpp"
#include "volnode/render/display.hpp"
#include "volnode/render/presets.hpp"
#include "volnode/render/render.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/volume/preprocess.hpp"

using namespace volnode;
namespace fs = std::filesystem;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double mib(uintmax_t bytes) { return double(bytes) / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
  fs::path series, out = fs::temp_directory_path() / "volnode-bench-encode";
  int frames = 36, size = 512;
  size_t triangles = 300'000;
  bool do_preprocess = false;
  double raw_factor = MeshOptions{}.raw_triangle_factor;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--series") series = next();
    else if (a == "--frames") frames = std::atoi(next().c_str());
    else if (a == "--size") size = std::atoi(next().c_str());
    else if (a == "--triangles") triangles = size_t(std::atol(next().c_str()));
    else if (a == "--out") out = next();
    else if (a == "--preprocess") do_preprocess = true;
    else if (a == "--raw-factor") raw_factor = std::atof(next().c_str());
    else {
      std::fprintf(stderr, "usage: bench_encode --series DIR [--frames N] [--size N] [--triangles N] [--out DIR] [--preprocess] [--raw-factor X]\n");
      return 2;
    }
  }
  if (series.empty()) {
    std::fprintf(stderr, "--series DIR is required\n");
    return 2;
  }
  try {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(series)) files.push_back(e.path());
    double t = now();
    const SeriesAssembly assembly = assembleSeries(files);
    const auto renderable = assembly.renderable();
    if (renderable.empty() || !renderable.front()->volume) {
      std::fprintf(stderr, "no renderable volume: %s\n", assembly.reason.c_str());
      return 1;
    }
    const VolumeCandidate& candidate = *renderable.front();
    auto volume = std::make_shared<Volume>(*candidate.volume);
    const double t_assemble = now() - t;
    double t_preprocess = 0;
    if (do_preprocess) {
      t = now();
      *volume = preprocess(std::move(*volume), PreprocessOptions{}).volume;
      t_preprocess = now() - t;
    }
    const OutputIdentity identity = readOutputIdentity(candidate.files);

    VolumeRenderer renderer;
    renderer.setVolume(volume);
    const fs::path presets = fs::path(VOLNODE_SOURCE_DIR) / "presets";
    RenderRequest request;
    request.width = request.height = size;
    request.spin_frames = frames;
    request.annotation = "PID";
    t = now();
    const auto bone = renderer.render(loadPreset(presets, "ct-bone"), request);
    const auto mip = renderer.render(loadPreset(presets, "ct-mip"), request);
    const double t_render = now() - t;
    const size_t views = request.views.size();
    const std::vector<RenderedFrame> bone_views(bone.begin(), bone.begin() + views), bone_spin(bone.begin() + views, bone.end());
    const std::vector<RenderedFrame> mip_views(mip.begin(), mip.begin() + views), mip_spin(mip.begin() + views, mip.end());

    fs::remove_all(out);
    const fs::path dicom = out / "dicom";
    FramesInfo vr, mi;
    vr.preset = "ct-bone";
    mi.preset = "ct-mip";
    mi.kind = RenderKind::Mip;
    t = now();
    const auto o_spin = encodeSpin(identity, planObject("", 9001, "3D VR Bone spin"), bone_spin, vr, dicom);
    const double t_spin = now() - t;
    t = now();
    const auto o_mip = encodeSpin(identity, planObject("", 9002, "3D MIP spin"), mip_spin, mi, dicom);
    const double t_mip = now() - t;
    t = now();
    const auto o_views = encodeKeyViews(identity, {planObject("", 9003, "3D VR Bone key views")}, bone_views, vr,
                                        KeyViewsMode::Multiframe, dicom);
    const auto o_mviews = encodeKeyViews(identity, {planObject("", 9004, "3D MIP key views")}, mip_views, mi,
                                         KeyViewsMode::Multiframe, dicom);
    const double t_views = now() - t;
    MeshOptions mo;
    mo.max_triangles = triangles;
    mo.raw_triangle_factor = raw_factor;
    t = now();
    const MeshResult mesh = extractSurface(*volume, mo);
    const double t_mesh = now() - t;
    t = now();
    const auto stl_size = writeBinaryStl(mesh.mesh, out / "mesh" / "bone.stl");
    const double t_stl = now() - t;
    t = now();
    MeshInfo info;
    info.threshold = mesh.threshold;
    const auto o_stl = encodeStl(identity, planObject("", 9005, "3D model Bone"), out / "mesh" / "bone.stl", info, dicom);
    const double t_stl_encode = now() - t;

    const double encode_total = t_spin + t_mip + t_views + t_stl_encode;
    const double mesh_total = t_mesh + t_stl;
    std::printf("volume %dx%dx%d, %.3fx%.3fx%.3f mm (assemble %.2f s%s)\n", volume->dimensions[0], volume->dimensions[1],
                volume->dimensions[2], volume->spacing[0], volume->spacing[1], volume->spacing[2], t_assemble,
                do_preprocess ? (", preprocess " + std::to_string(t_preprocess) + " s").c_str() : "");
    std::printf("render bundle: %zu + %zu frames of %dx%d: %.2f s\n", bone.size(), mip.size(), size, size, t_render);
    std::printf("| stage | seconds | object | size |\n|---|---|---|---|\n");
    std::printf("| encode VR spin (%zu frames) | %.3f | MF True Color SC | %.1f MiB |\n", bone_spin.size(), t_spin, mib(o_spin.size_bytes));
    std::printf("| encode MIP spin (%zu frames) | %.3f | MF Grayscale Byte SC | %.1f MiB |\n", mip_spin.size(), t_mip, mib(o_mip.size_bytes));
    std::printf("| encode key views (2 x %zu frames) | %.3f | 2 x MF SC | %.1f + %.1f MiB |\n", views, t_views,
                mib(o_views[0].size_bytes), mib(o_mviews[0].size_bytes));
    std::printf("| mesh extraction (threshold %.0f, blocks %dx%dx%d, raw %zu -> %zu triangles, %d parts) | %.3f | | |\n",
                mesh.threshold, mesh.downsample[0], mesh.downsample[1], mesh.downsample[2], mesh.raw_triangles,
                mesh.mesh.triangleCount(), mesh.parts_kept, t_mesh);
    std::printf("| write binary STL | %.3f | STL file | %.1f MiB |\n", t_stl, mib(stl_size));
    std::printf("| encode STL | %.3f | Encapsulated STL | %.1f MiB |\n", t_stl_encode, mib(o_stl.size_bytes));
    std::printf("mesh stages:");
    for (const auto& [stage, s] : mesh.timings_s) std::printf(" %s %.3f s", stage.c_str(), s);
    std::printf("\nencode %.2f s + mesh %.2f s = %.2f s = %.1f %% of the render (%.2f s)\n", encode_total, mesh_total,
                encode_total + mesh_total, 100.0 * (encode_total + mesh_total) / t_render, t_render);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_encode: %s\n", e.what());
    return 1;
  }
}
