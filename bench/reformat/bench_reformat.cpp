// Reformat benchmark: assembles one series and times, per reformat, the resampling
// and the writing of its CT/MR image series (what a render job adds for its rule's
// "reformat" outputs; the job runs them on their own thread while the views render).
//
//   bench_reformat --series DIR [--out DIR] [--phantom] [--threads N] [--stream] [--source-references N]
// Reformats: COR 3mm, SAG 3mm (average), AX MIP 10mm every 5 mm, COR MIP 10mm.
// --phantom: instead of the series' voxels, a 512 x 512 x 300 body phantom (0.7 x 0.7 x
//   1 mm, ct_body_phantom.hpp) in the series' patient space; the series still gives the
//   identity the objects are written with.
// --stream: as the render job does it, each group of slices written as it is resampled
//   (ReformatSlices, one thread); one time per reformat ("total resample" is then both).
// --source-references N: each slice lists its source images when at most N (default:
//   the node's outputs.reformat_source_references), as the render job writes them.
// e.g. bench_reformat --series ../shared/data/ct-head-phantom-study/S2020 --phantom
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "ct_body_phantom.hpp"
#include "volnode/core/config.hpp"
#include "volnode/core/error.hpp"
#include "volnode/encode/derived_image.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/volume/reformat.hpp"
#include "volnode/workflow/reformat_outputs.hpp"

using namespace volnode;
namespace fs = std::filesystem;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// CPU seconds of the whole process (all threads): what load on a shared machine moves less than wall time.
double cpuNow() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

Volume bodyPhantom(const Volume& like) {
  Volume v;
  v.dimensions = {512, 512, 300};
  v.spacing = {0.7, 0.7, 1.0};
  v.origin = {-179, -179, -100};
  v.modality = like.modality;
  v.frame_of_reference_uid = like.frame_of_reference_uid;
  v.voxels.resize(v.voxelCount());
  for (int k = 0; k < 300; ++k)
    for (int j = 0; j < 512; ++j)
      for (int i = 0; i < 512; ++i) {
        const auto p = v.physicalPoint(i, j, k);
        v.voxels[(size_t(k) * 512 + j) * 512 + i] = int16_t(bench::ctBodyPhantomHu(p[0], p[1], p[2]));
      }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path series, out = fs::temp_directory_path() / "volnode-bench-reformat";
  bool phantom = false, stream = false;
  unsigned threads = 0;
  int source_references = OutputsConfig{}.reformat_source_references;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--series") series = next();
    else if (a == "--out") out = next();
    else if (a == "--phantom") phantom = true;
    else if (a == "--stream") stream = true;
    else if (a == "--threads") threads = unsigned(std::atoi(next().c_str()));
    else if (a == "--source-references") source_references = std::atoi(next().c_str());
    else {
      std::fprintf(stderr, "usage: bench_reformat --series DIR [--out DIR] [--phantom] [--threads N] [--stream] "
                           "[--source-references N]\n");
      return 2;
    }
  }
  if (series.empty()) {
    std::fprintf(stderr, "--series DIR is required\n");
    return 2;
  }
  try {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(series))
      if (e.is_regular_file()) files.push_back(e.path());
    double t = now();
    SeriesAssembly assembly = assembleSeries(files);
    const VolumeCandidate* best = nullptr;
    for (const auto* c : assembly.renderable())
      if (c->volume && (!best || c->source_frames > best->source_frames)) best = c;
    if (!best) throw Error(Errc::NotAVolume, assembly.reason);
    Volume volume = *best->volume;
    const OutputIdentity identity = readOutputIdentity(best->files);
    std::printf("assemble  %.2f s  %dx%dx%d  %.2fx%.2fx%.2f mm\n", now() - t, volume.dimensions[0],
                volume.dimensions[1], volume.dimensions[2], volume.spacing[0], volume.spacing[1], volume.spacing[2]);
    if (phantom) {
      t = now();
      volume = bodyPhantom(volume);
      std::printf("phantom   %.2f s  512x512x300  0.70x0.70x1.00 mm\n", now() - t);
    }
    struct Job {
      const char* description;
      ReformatPlane plane;
      SlabMode mode;
      double thickness, spacing;
    } jobs[] = {{"COR 3mm", ReformatPlane::Coronal, SlabMode::Average, 3, 3},
                {"SAG 3mm", ReformatPlane::Sagittal, SlabMode::Average, 3, 3},
                {"AX MIP 10mm", ReformatPlane::Axial, SlabMode::Maximum, 10, 5},
                {"COR MIP 10mm", ReformatPlane::Coronal, SlabMode::Maximum, 10, 5}};
    fs::remove_all(out);
    double total_resample = 0, total_encode = 0, cpu_resample = 0, cpu_encode = 0;
    uintmax_t total_bytes = 0;
    int number = 9100;
    for (const auto& job : jobs) {
      ReformatSpec spec;
      spec.plane = job.plane;
      spec.mode = job.mode;
      spec.thickness_mm = job.thickness;
      spec.spacing_mm = job.spacing;
      DerivedImageInfo info;
      info.kind = job.mode == SlabMode::Maximum ? DerivedImageKind::MaximumSlab : DerivedImageKind::Reformat;
      info.spacing_between_slices = job.spacing;
      t = now();
      double cpu = cpuNow();
      if (stream) {  // as the render job writes them: each group of slices written as it is resampled
        ReformatSlices slices(volume, spec, volume.modality == "CT" ? -1024 : 0);
        const auto plans = planSeries("", number++, job.description, int(slices.size()));
        DerivedImageSeriesEncoder encoder(identity, info);
        uintmax_t bytes = 0;
        size_t i = 0;
        for (const auto* group = &slices.next(); !group->empty(); group = &slices.next())
          for (const PlaneImage& image : *group)
            bytes += encoder
                         .encode(plans[i++], image, out,
                                 reformatSliceSources(volume, spec, image.geometry, identity, source_references))
                         .size_bytes;
        const double seconds = now() - t, seconds_cpu = cpuNow() - cpu;
        std::printf("%-13s %4zu slices  resampled and written %.2f s (CPU %.2f s)  %.1f MiB\n", job.description,
                    slices.size(), seconds, seconds_cpu, double(bytes) / 1048576.0);
        total_resample += seconds;
        cpu_resample += seconds_cpu;
        total_bytes += bytes;
        continue;
      }
      const auto images = reformatVolume(volume, spec, volume.modality == "CT" ? -1024 : 0, threads);
      const double resample = now() - t, resample_cpu = cpuNow() - cpu;
      t = now();
      cpu = cpuNow();
      const auto plans = planSeries("", number++, job.description, int(images.size()));
      uintmax_t bytes = 0;
      DerivedImageSeriesEncoder encoder(identity, info);
      for (size_t i = 0; i < images.size(); ++i)
        bytes += encoder
                     .encode(plans[i], images[i], out,
                             reformatSliceSources(volume, spec, images[i].geometry, identity, source_references))
                     .size_bytes;
      const double encode = now() - t, encode_cpu = cpuNow() - cpu;
      std::printf("%-13s %4zu slices %4dx%-4d  resample %.2f s (CPU %.2f s)  encode %.2f s (CPU %.2f s)  %.1f MiB\n",
                  job.description, images.size(), images[0].geometry.columns, images[0].geometry.rows, resample,
                  resample_cpu, encode, encode_cpu, double(bytes) / 1048576.0);
      total_resample += resample;
      total_encode += encode;
      cpu_resample += resample_cpu;
      cpu_encode += encode_cpu;
      total_bytes += bytes;
    }
    std::printf("total         resample %.2f s (CPU %.2f s)  encode %.2f s (CPU %.2f s)  %.1f MiB in %s\n",
                total_resample, cpu_resample, total_encode, cpu_encode, double(total_bytes) / 1048576.0, out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_reformat: %s\n", e.what());
    return 1;
  }
  return 0;
}
