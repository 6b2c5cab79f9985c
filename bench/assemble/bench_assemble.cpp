// Assembly benchmark: time and peak memory of
//   volnode scanSeries (headers only), volnode assembleSeries (voxels),
//   volnode assembleSeries + preprocess (the ct-bundle defaults),
//   ITK GDCMSeriesFileNames + ImageSeriesReader<short> + GDCMImageIO (the plain ITK way),
// on the 140-slice phantom series and a generated 512x512x600 CT, written both as one
// file per slice and as one Enhanced CT object holding all frames.
// Every case runs in a fresh process (this program re-executes itself with --child)
// so VmHWM is that case's own peak.
//
// Usage: bench_assemble [--work DIR] [--slices N] [--repeat R]
//   DIR (default /tmp/volnode-bench-assemble) receives the generated series (kept between runs).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <itkGDCMImageIO.h>
#include <itkGDCMSeriesFileNames.h>
#include <itkImage.h>
#include <itkImageSeriesReader.h>

#include "volnode/rules/routing_rules.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/volume/preprocess.hpp"

#ifdef VOLNODE_BENCH_HAVE_SYNTHETIC
#include "support/synthetic_series.hpp"
#endif

namespace fs = std::filesystem;

namespace {

long statusKb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
  return -1;
}

std::vector<fs::path> listFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Child: runs one case, prints "ms peak_kb start_kb voxels".
int child(const std::string& method, const fs::path& dir) {
  const long start_kb = statusKb("VmRSS:");
  const auto t0 = std::chrono::steady_clock::now();
  size_t voxels = 0;
  if (method == "itk") {
    using Image = itk::Image<short, 3>;
    auto names = itk::GDCMSeriesFileNames::New();
    names->SetUseSeriesDetails(true);
    names->SetDirectory(dir.string());
    const auto uids = names->GetSeriesUIDs();
    if (uids.empty()) return 3;
    auto reader = itk::ImageSeriesReader<Image>::New();
    reader->SetImageIO(itk::GDCMImageIO::New());
    reader->SetFileNames(names->GetFileNames(uids.front()));
    reader->Update();
    voxels = reader->GetOutput()->GetLargestPossibleRegion().GetNumberOfPixels();
  } else {
    volnode::AssemblyOptions o;
    o.load_voxels = method != "scan";
    auto a = volnode::assembleSeries(listFiles(dir), o);
    const auto r = a.renderable();
    if (r.empty()) {
      std::fprintf(stderr, "no renderable volume: %s\n", a.reason.c_str());
      return 3;
    }
    voxels = size_t(r[0]->dimensions[0]) * r[0]->dimensions[1] * r[0]->dimensions[2];
    if (method == "preprocess") {
      auto rule = volnode::RuleSet::defaults().rules();
      auto it = std::find_if(rule.begin(), rule.end(), [](const auto& x) { return x.name == "ct-bundle"; });
      volnode::Volume v = std::move(*a.volumes[0].volume);
      a.volumes.clear();
      const auto p = volnode::preprocess(std::move(v), it->preprocess);
      for (const auto& [step, seconds] : p.timings.stages) std::fprintf(stderr, "  %s %.0f ms\n", step.c_str(), seconds * 1000);
      std::fprintf(stderr, "  -> %dx%dx%d\n", p.volume.dimensions[0], p.volume.dimensions[1], p.volume.dimensions[2]);
    }
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%.1f %ld %ld %zu\n", ms, statusKb("VmHWM:"), start_kb, voxels);
  return 0;
}

struct Result {
  double ms = 0;
  long peak_kb = 0, start_kb = 0;
  size_t voxels = 0;
  bool ok = false;
};

Result runChild(const char* self, const std::string& method, const fs::path& dir) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 1);
    close(pipefd[0]);
    execl(self, self, "--child", method.c_str(), dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(pipefd[1]);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  Result r;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
      std::sscanf(out.c_str(), "%lf %ld %ld %zu", &r.ms, &r.peak_kb, &r.start_kb, &r.voxels) == 4)
    r.ok = true;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::strcmp(argv[1], "--child") == 0) return child(argv[2], argv[3]);

  fs::path work = "/tmp/volnode-bench-assemble";
  int slices = 600, repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--work")) work = argv[i + 1];
    if (!std::strcmp(argv[i], "--slices")) slices = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--repeat")) repeat = std::max(1, std::atoi(argv[i + 1]));
  }

  std::vector<std::pair<std::string, fs::path>> datasets;
  datasets.emplace_back("phantom S2020 512x512x140", fs::path(VOLNODE_BENCH_SHARED_DATA) / "ct-head-phantom-study/S2020");
#ifdef VOLNODE_BENCH_HAVE_SYNTHETIC
  {
    volnode::test::SyntheticSeries s;
    s.rows = s.cols = 512;
    s.row_spacing = s.col_spacing = 0.7;
    s.slices = slices;
    s.slice_spacing = 0.8;
    s.origin = {-179, -179, -0.4 * slices};
    s.signed_pixels = false;
    s.rescale_intercept = -1024;
    volnode::test::OrientationPhantom body;
    body.radii = {160, 110, 0.38 * slices};
    body.marker_radius = 15;
    s.value = [body](const volnode::test::Vec3& p) {
      if (p[1] > 125 && p[1] < 140 && std::abs(p[0]) < 170) return 300.0;  // table
      return body(p);
    };
    // The same volume twice: one file per slice, and one Enhanced CT object of all frames.
    const fs::path dir = work / ("synthetic-512x512x" + std::to_string(slices));
    const fs::path enhanced = work / ("synthetic-enhanced-512x512x" + std::to_string(slices));
    const auto t0 = std::chrono::steady_clock::now();
    if (!(fs::exists(dir) && listFiles(dir).size() == size_t(slices))) {
      fs::remove_all(dir);
      volnode::test::writeSyntheticSeries(s, dir);
    }
    if (!(fs::exists(enhanced) && listFiles(enhanced).size() == 1)) {
      fs::remove_all(enhanced);
      volnode::test::writeSyntheticEnhancedCt(s, enhanced / "enhanced-ct.dcm");
    }
    std::printf("synthetic series of %d slices of 512x512 ready in %.1f s -> %s, %s\n", slices,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), dir.c_str(),
                enhanced.c_str());
    datasets.emplace_back("synthetic 512x512x" + std::to_string(slices), dir);
    datasets.emplace_back("synthetic 512x512x" + std::to_string(slices) + ", one Enhanced CT object", enhanced);
  }
#endif

  std::printf("\n| data | method | time (s) | peak RSS (MB) | peak - start (MB) | int16 volume (MB) | (peak - start) / volume |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|\n");
  std::vector<double> assemble_ms;  // per data set, in order
  for (const auto& [name, dir] : datasets) {
    for (const char* method : {"itk", "scan", "assemble", "preprocess"}) {
      Result best;
      for (int r = 0; r < repeat; ++r) {
        Result x = runChild(argv[0], method, dir);
        if (!x.ok) {
          std::printf("| %s | %s | failed |\n", name.c_str(), method);
          best.ok = false;
          break;
        }
        if (!best.ok || x.ms < best.ms) best = x;
      }
      if (!best.ok) continue;
      const double vol_mb = best.voxels * 2.0 / 1048576.0;
      const double peak = best.peak_kb / 1024.0, extra = (best.peak_kb - best.start_kb) / 1024.0;
      const char* label = !std::strcmp(method, "itk")        ? "ITK ImageSeriesReader+GDCMImageIO"
                          : !std::strcmp(method, "scan")     ? "volnode scanSeries (headers)"
                          : !std::strcmp(method, "assemble") ? "volnode assembleSeries"
                                                             : "volnode assemble + preprocess (ct-bundle)";
      std::printf("| %s | %s | %.2f | %.0f | %.0f | %.0f | %.2f |\n", name.c_str(), label, best.ms / 1000.0, peak,
                  extra, vol_mb, extra / vol_mb);
      std::fflush(stdout);
      if (!std::strcmp(method, "assemble")) assemble_ms.push_back(best.ms);
    }
  }
  // The synthetic volume as one object against the same volume as single-frame files.
  if (assemble_ms.size() == 3)
    std::printf("\nassembleSeries, one multi-frame object / single-frame files: %.2fx\n",
                assemble_ms[2] / assemble_ms[1]);
  return 0;
}
