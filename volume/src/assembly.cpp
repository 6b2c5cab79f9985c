#include "volnode/volume/assembly.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "block_reduction.hpp"
#include "plan.hpp"
#include "prefetched_slices.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {

const char* decisionName(VolumeDecision d) noexcept {
  return d == VolumeDecision::Renderable ? "renderable" : "refused";
}

std::vector<const VolumeCandidate*> SeriesAssembly::renderable() const {
  std::vector<const VolumeCandidate*> out;
  for (const auto& v : volumes)
    if (v.decision == VolumeDecision::Renderable) out.push_back(&v);
  return out;
}

namespace detail {

// Reads headers of the given files; non-DICOM files are counted, not returned.
std::vector<FileHeader> readHeaders(const std::vector<std::filesystem::path>& files, size_t& skipped,
                                    std::string* first_refusal, const PrefetchedSlices* known) {
  std::vector<FileHeader> headers;
  headers.reserve(files.size());
  for (const auto& f : files) {
    if (known) {
      const auto it = known->headers.find(f.string());
      if (it != known->headers.end()) {
        headers.push_back(it->second);
        continue;
      }
    }
    std::string refusal;
    auto h = readHeader(f, &refusal);
    if (first_refusal && first_refusal->empty()) *first_refusal = refusal;
    if (h)
      headers.push_back(std::move(*h));
    else
      ++skipped;
  }
  std::sort(headers.begin(), headers.end(),
            [](const FileHeader& a, const FileHeader& b) { return a.path < b.path; });
  return headers;
}

std::string summarize(const std::vector<VolumeCandidate>& volumes) {
  size_t renderable = 0;
  std::vector<std::string> reasons;
  for (const auto& v : volumes) {
    if (v.decision == VolumeDecision::Renderable)
      ++renderable;
    else if (std::find(reasons.begin(), reasons.end(), v.reason) == reasons.end())
      reasons.push_back(v.reason);
  }
  if (volumes.empty()) return "no images";
  if (renderable == 0) {
    std::string r;
    for (const auto& x : reasons) r += (r.empty() ? "" : "; ") + x;
    return r;
  }
  if (volumes.size() == 1) return "";
  return std::to_string(volumes.size()) + " volumes, " + std::to_string(renderable) + " renderable";
}

SeriesAssembly assembleFromHeaders(const std::vector<FileHeader>& headers, size_t skipped,
                                   const AssemblyOptions& options, std::vector<StackPlan>* plans_out) {
  SeriesAssembly out;
  out.skipped_files = skipped;
  out.instances = headers.size();
  if (!headers.empty()) {
    // Series attributes from the first image that has pixel data (else the first file).
    auto it = std::find_if(headers.begin(), headers.end(), [](const FileHeader& h) {
      return h.has_pixel_data && !h.frames.empty() && !h.frames.front().localizer;
    });
    out.info = (it != headers.end() ? *it : headers.front()).info;
    std::set<std::string> uids;
    for (const auto& h : headers) uids.insert(h.info.series_instance_uid);
    if (uids.size() > 1)
      moduleLogger("pipeline")->warn("assembling {} files from {} different series as one", headers.size(), uids.size());
  }
  std::vector<StackPlan> plans = planSeries(headers, options);
  for (const auto& p : plans) out.volumes.push_back(p.candidate);
  if (plans_out) *plans_out = std::move(plans);
  return out;
}

void finish(SeriesAssembly& out, const std::string& first_refusal) {
  out.decision = VolumeDecision::Refused;
  for (const auto& v : out.volumes)
    if (v.decision == VolumeDecision::Renderable) out.decision = VolumeDecision::Renderable;
  out.reason = summarize(out.volumes);
  // Nothing to show because the guarded reader refused the files: say why it did.
  if (out.volumes.empty() && !first_refusal.empty())
    out.reason = "no readable images: " + std::to_string(out.skipped_files) + " file(s) refused (" + first_refusal + ")";
}

}  // namespace detail

namespace {

// The headers a StackPrefetch read while the series arrived, if it has any.
const detail::PrefetchedSlices* knownHeaders(const AssemblyOptions& options) {
  return options.prefetched ? &options.prefetched->held() : nullptr;
}

}  // namespace

SeriesAssembly scanSeries(const std::vector<std::filesystem::path>& files, const AssemblyOptions& options) {
  size_t skipped = 0;
  std::string refusal;
  auto headers = detail::readHeaders(files, skipped, &refusal, knownHeaders(options));
  SeriesAssembly out = detail::assembleFromHeaders(headers, skipped, options, nullptr);
  detail::finish(out, refusal);
  return out;
}

SeriesAssembly assembleSeries(const std::vector<std::filesystem::path>& files, const AssemblyOptions& options) {
  if (!options.load_voxels) return scanSeries(files, options);
  size_t skipped = 0;
  std::string refusal;
  auto headers = detail::readHeaders(files, skipped, &refusal, knownHeaders(options));
  std::vector<detail::StackPlan> plans;
  SeriesAssembly out = detail::assembleFromHeaders(headers, skipped, options, &plans);
  // Slices decoded while the series arrived serve its largest stack.
  detail::PrefetchedSlices* prefetched =
      options.prefetched && options.prefetched->seriesUid() == out.info.series_instance_uid
          ? &options.prefetched->held()
          : nullptr;
  size_t largest = plans.size();
  for (size_t i = 0; i < plans.size(); ++i)
    if (plans[i].candidate.decision == VolumeDecision::Renderable &&
        (largest == plans.size() || plans[i].slices.size() > plans[largest].slices.size()))
      largest = i;
  for (size_t i = 0; i < plans.size(); ++i) {
    if (plans[i].candidate.decision != VolumeDecision::Renderable) continue;
    try {
      const detail::BlockReduction reduction = detail::reductionToFit(
          plans[i].candidate.dimensions, plans[i].candidate.spacing, options.max_volume_bytes);
      out.volumes[i].volume = detail::decodeStack(headers, plans[i], reduction, i == largest ? prefetched : nullptr);
      if (!reduction.none()) {
        // The candidate describes the volume as it was decoded.
        detail::reduceGeometry(out.volumes[i], reduction);
        const std::string note = "averaged " + reduction.describe() + " while decoding to fit " +
                                 std::to_string(options.max_volume_bytes >> 20) + " MB";
        out.volumes[i].corrections.push_back(note);
        out.volumes[i].volume->corrections.push_back(note);
      }
    } catch (const Error& e) {
      if (e.code() == Errc::Io) throw;
      moduleLogger("pipeline")->warn("series {}: {}", out.info.series_instance_uid, e.what());
      out.volumes[i].decision = VolumeDecision::Refused;
      out.volumes[i].reason = std::string("pixel data could not be decoded: ") + e.what();
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      out.volumes[i].decision = VolumeDecision::Refused;
      out.volumes[i].reason = std::string("pixel data could not be decoded: ") + e.what();
    }
  }
  if (prefetched) options.prefetched->clear();  // taken, or of no use to these stacks
  detail::finish(out, refusal);
  return out;
}

Volume assembleVolume(const std::vector<std::filesystem::path>& files, const AssemblyOptions& options) {
  AssemblyOptions o = options;
  o.load_voxels = true;
  SeriesAssembly s = assembleSeries(files, o);
  VolumeCandidate* best = nullptr;
  for (auto& v : s.volumes)
    if (v.decision == VolumeDecision::Renderable && v.volume &&
        (!best || v.volume->voxelCount() > best->volume->voxelCount()))
      best = &v;
  if (!best) throw Error(Errc::NotAVolume, "series " + s.info.series_instance_uid + ": " + s.reason);
  return std::move(*best->volume);
}

}  // namespace volnode
