// Geometry planning: frames -> stacks -> volume candidates, from headers only.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>

#include "plan.hpp"
#include "volnode/core/logging.hpp"

namespace volnode::detail {
namespace {

constexpr double kSamePosition = 0.02;  // mm along the normal: two frames at one position
constexpr double kOrientationTolerance = 1e-3;

double dot(const V3& a, const V3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
V3 cross(const V3& a, const V3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double norm(const V3& a) { return std::sqrt(dot(a, a)); }
V3 sub(const V3& a, const V3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }

std::string fmt1(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}
std::string fmt2(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

bool startsWith(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

struct FrameId {
  size_t file;
  size_t frame;
};

// Why a frame can never be part of a volume; empty when it can.
std::string frameRefusal(const FileHeader& h, const FrameHeader& f) {
  const std::string& sop = h.info.sop_class_uid;
  if (startsWith(sop, "1.2.840.10008.5.1.4.1.1.7")) return "secondary capture";
  if (sop == "1.2.840.10008.5.1.4.1.1.88.67" || sop == "1.2.840.10008.5.1.4.1.1.88.68") return "dose report";
  if (startsWith(sop, "1.2.840.10008.5.1.4.1.1.88.")) return "structured report";
  if (h.info.modality == "SR") return "structured report";
  if (!h.has_pixel_data) return "no pixel data";
  if (h.rows <= 0 || h.cols <= 0) return "no image matrix (Rows/Columns)";
  if (h.samples_per_pixel != 1) return "colour image, not a grey-scale volume";
  if (h.bits_allocated != 8 && h.bits_allocated != 16 && h.bits_allocated != 32)
    return "unsupported BitsAllocated (" + std::to_string(h.bits_allocated) + ")";
  if (f.localizer) return "localizer";
  if (!f.has_position || !f.has_orientation) return "no ImagePositionPatient/ImageOrientationPatient";
  const V3 r{f.orientation[0], f.orientation[1], f.orientation[2]};
  const V3 c{f.orientation[3], f.orientation[4], f.orientation[5]};
  if (std::abs(norm(r) - 1) > 0.01 || std::abs(norm(c) - 1) > 0.01 || std::abs(dot(r, c)) > 0.01)
    return "invalid ImageOrientationPatient";
  if (!f.has_spacing || !(f.pixel_spacing[0] > 0) || !(f.pixel_spacing[1] > 0)) return "no PixelSpacing";
  return {};
}

struct Group {
  const FileHeader* first = nullptr;
  const FrameHeader* proto = nullptr;
  std::vector<FrameId> frames;
};

bool sameGeometryClass(const FileHeader& ha, const FrameHeader& a, const FileHeader& hb, const FrameHeader& b) {
  if (ha.rows != hb.rows || ha.cols != hb.cols || a.split_key != b.split_key) return false;
  for (int i = 0; i < 6; ++i)
    if (std::abs(a.orientation[i] - b.orientation[i]) > kOrientationTolerance) return false;
  for (int i = 0; i < 2; ++i)
    if (std::abs(a.pixel_spacing[i] - b.pixel_spacing[i]) > 1e-4 * std::max(1.0, a.pixel_spacing[i])) return false;
  return true;
}

class Planner {
 public:
  Planner(const std::vector<FileHeader>& headers, const AssemblyOptions& options)
      : headers_(headers), options_(options) {}

  std::vector<StackPlan> run() {
    std::map<std::string, std::vector<FrameId>> refused;  // reason -> frames
    std::vector<std::string> refused_order;
    std::vector<Group> groups;
    for (size_t fi = 0; fi < headers_.size(); ++fi) {
      const FileHeader& h = headers_[fi];
      for (size_t k = 0; k < h.frames.size(); ++k) {
        const FrameHeader& f = h.frames[k];
        std::string why = frameRefusal(h, f);
        if (!why.empty()) {
          if (!refused.count(why)) refused_order.push_back(why);
          refused[why].push_back({fi, k});
          continue;
        }
        auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
          return sameGeometryClass(*g.first, *g.proto, h, f);
        });
        if (it == groups.end()) {
          groups.push_back({&h, &f, {}});
          it = groups.end() - 1;
        }
        it->frames.push_back({fi, k});
      }
    }

    // Labels for several groups: their split labels when they differ, else numbering.
    std::vector<std::string> labels(groups.size());
    if (groups.size() > 1) {
      bool distinct_labels = true;
      for (size_t i = 0; i < groups.size(); ++i)
        for (size_t j = 0; j < i; ++j)
          if (groups[i].proto->split_label == groups[j].proto->split_label) distinct_labels = false;
      bool same_orientation = true;
      for (size_t i = 1; i < groups.size(); ++i)
        for (int c = 0; c < 6; ++c)
          if (std::abs(groups[i].proto->orientation[c] - groups[0].proto->orientation[c]) > kOrientationTolerance)
            same_orientation = false;
      for (size_t i = 0; i < groups.size(); ++i) {
        if (distinct_labels && !groups[i].proto->split_label.empty())
          labels[i] = groups[i].proto->split_label;
        else
          labels[i] = std::string(same_orientation ? "stack " : "orientation ") + std::to_string(i + 1) + " of " +
                      std::to_string(groups.size());
      }
    }
    for (size_t i = 0; i < groups.size(); ++i) planGroup(groups[i], labels[i]);
    for (const auto& why : refused_order) addRefusedBin(why, refused[why]);
    return std::move(out_);
  }

 private:
  int fillValue(const FileHeader& h) const {
    if (options_.fill_value) return *options_.fill_value;
    return h.info.modality == "CT" ? -1024 : 0;
  }

  void addRefusedBin(const std::string& why, const std::vector<FrameId>& frames) {
    StackPlan p;
    p.candidate.decision = VolumeDecision::Refused;
    p.candidate.reason = why;
    p.candidate.source_frames = frames.size();
    const FileHeader& h0 = headers_[frames.front().file];
    bool same_matrix = true;
    for (const auto& f : frames)
      if (headers_[f.file].rows != h0.rows || headers_[f.file].cols != h0.cols) same_matrix = false;
    if (same_matrix && h0.rows > 0) p.candidate.dimensions = {h0.cols, h0.rows, int(frames.size())};
    const FrameHeader& f0 = h0.frames[frames.front().frame];
    if (f0.has_spacing) p.candidate.spacing = {f0.pixel_spacing[1], f0.pixel_spacing[0], 0};
    if (f0.has_position) p.candidate.origin = f0.position;
    if (f0.has_orientation) setDirection(p.candidate, f0);
    addFiles(p.candidate, frames);
    out_.push_back(std::move(p));
  }

  void addFiles(VolumeCandidate& c, const std::vector<FrameId>& frames) const {
    for (const auto& f : frames) {
      const auto& path = headers_[f.file].path;
      if (c.files.empty() || c.files.back() != path) {
        if (std::find(c.files.begin(), c.files.end(), path) == c.files.end()) c.files.push_back(path);
      }
    }
  }

  static void setDirection(VolumeCandidate& c, const FrameHeader& f) {
    V3 r{f.orientation[0], f.orientation[1], f.orientation[2]};
    V3 col{f.orientation[3], f.orientation[4], f.orientation[5]};
    const double nr = norm(r), nc = norm(col);
    if (nr > 0 && nc > 0)
      for (int i = 0; i < 3; ++i) r[i] /= nr, col[i] /= nc;
    V3 n = cross(r, col);
    const double nn = norm(n);
    if (nn > 0)
      for (auto& x : n) x /= nn;
    for (int row = 0; row < 3; ++row) {
      c.direction[row * 3 + 0] = r[row];
      c.direction[row * 3 + 1] = col[row];
      c.direction[row * 3 + 2] = n[row];
    }
  }

  StackPlan refusedStack(const Group& g, const std::vector<SliceRef>& slices, const std::string& label,
                         const std::string& why) const {
    StackPlan p;
    p.candidate.decision = VolumeDecision::Refused;
    p.candidate.reason = why;
    p.candidate.label = label;
    p.candidate.source_frames = slices.size();
    p.candidate.dimensions = {g.first->cols, g.first->rows, int(slices.size())};
    p.candidate.spacing = {g.proto->pixel_spacing[1], g.proto->pixel_spacing[0], 0};
    setDirection(p.candidate, *g.proto);
    if (!slices.empty()) p.candidate.origin = headers_[slices[0].file].frames[slices[0].frame].position;
    std::vector<FrameId> ids;
    for (const auto& s : slices) ids.push_back({s.file, s.frame});
    addFiles(p.candidate, ids);
    return p;
  }

  void planGroup(const Group& g, const std::string& label) {
    const FrameHeader& f0 = *g.proto;
    V3 r{f0.orientation[0], f0.orientation[1], f0.orientation[2]};
    V3 c{f0.orientation[3], f0.orientation[4], f0.orientation[5]};
    for (int i = 0; i < 3; ++i) r[i] /= norm(V3{f0.orientation[0], f0.orientation[1], f0.orientation[2]});
    const double nc = norm(c);
    for (auto& x : c) x /= nc;
    V3 n = cross(r, c);
    const double nn = norm(n);
    for (auto& x : n) x /= nn;

    std::vector<SliceRef> slices;
    for (const auto& id : g.frames) {
      const FrameHeader& f = headers_[id.file].frames[id.frame];
      slices.push_back({id.file, id.frame, dot(f.position, n), 0, 0});
    }
    auto instance = [&](const SliceRef& s) { return headers_[s.file].frames[s.frame].instance_number; };
    std::stable_sort(slices.begin(), slices.end(), [&](const SliceRef& a, const SliceRef& b) {
      if (std::abs(a.d - b.d) > kSamePosition) return a.d < b.d;
      if (instance(a) != instance(b)) return instance(a) < instance(b);
      if (a.file != b.file) return headers_[a.file].path < headers_[b.file].path;
      return a.frame < b.frame;
    });

    // Positions shared by several frames.
    std::vector<std::vector<SliceRef>> clusters;
    for (const auto& s : slices) {
      if (clusters.empty() || std::abs(s.d - clusters.back().front().d) > kSamePosition) clusters.emplace_back();
      clusters.back().push_back(s);
    }
    if (clusters.size() == 1 && slices.size() > 1) {
      out_.push_back(refusedStack(g, slices, label,
                                  "not a volume (" + std::to_string(slices.size()) + " slices at one position)"));
      return;
    }
    size_t m = clusters.front().size();
    bool regular = true, repeated = false;
    for (const auto& cl : clusters) {
      if (cl.size() != m) regular = false;
      if (cl.size() > 1) repeated = true;
    }
    if (repeated && !regular) {
      out_.push_back(refusedStack(g, slices, label,
                                  "repeated positions (" + std::to_string(slices.size()) + " slices at " +
                                      std::to_string(clusters.size()) + " positions, unequal counts)"));
      return;
    }
    if (repeated) {
      for (size_t j = 0; j < m; ++j) {
        std::vector<SliceRef> part;
        for (const auto& cl : clusters) part.push_back(cl[j]);
        std::string l = (label.empty() ? "" : label + ", ") + "repeat " + std::to_string(j + 1) + " of " +
                        std::to_string(m);
        planUnique(g, r, c, n, part, l);
      }
      return;
    }
    planUnique(g, r, c, n, slices, label);
  }

  // A stack with one frame per position, sorted along n.
  void planUnique(const Group& g, const V3& r, const V3& c, const V3& n, std::vector<SliceRef> slices,
                  const std::string& label) {
    const size_t count = slices.size();
    if (int(count) < std::max(2, options_.min_slices)) {
      out_.push_back(refusedStack(g, slices, label, "too few slices (" + std::to_string(count) + ")"));
      return;
    }
    std::vector<double> gaps;
    for (size_t k = 1; k < count; ++k) gaps.push_back(slices[k].d - slices[k - 1].d);
    std::vector<double> sorted = gaps;
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    const double median = sorted[sorted.size() / 2];
    const double max_gap = *std::max_element(gaps.begin(), gaps.end());

    if (max_gap > options_.max_gap_ratio * median + 1e-3) {
      // Split at the large gaps.
      std::vector<std::vector<SliceRef>> parts(1);
      for (size_t k = 0; k < count; ++k) {
        if (k > 0 && gaps[k - 1] > options_.max_gap_ratio * median + 1e-3) parts.emplace_back();
        parts.back().push_back(slices[k]);
      }
      moduleLogger("pipeline")->info("series split at {} gap(s) larger than {}x the median spacing {} mm",
                                     parts.size() - 1, options_.max_gap_ratio, median);
      for (size_t i = 0; i < parts.size(); ++i) {
        std::string l = (label.empty() ? "" : label + ", ") + "part " + std::to_string(i + 1) + " of " +
                        std::to_string(parts.size()) + " (split at gap > " + fmt1(options_.max_gap_ratio * median) +
                        " mm)";
        if (int(parts[i].size()) < options_.min_slices)
          out_.push_back(refusedStack(g, parts[i], l, "too few slices (" + std::to_string(parts[i].size()) + ")"));
        else
          planUnique(g, r, c, n, parts[i], l);
      }
      return;
    }

    StackPlan p;
    p.rows = g.first->rows;
    p.cols = g.first->cols;
    p.sx = g.proto->pixel_spacing[1];
    p.sy = g.proto->pixel_spacing[0];
    p.fill_value = fillValue(*g.first);
    VolumeCandidate& cand = p.candidate;
    cand.label = label;
    cand.source_frames = count;

    const double tol = std::max(options_.uniform_tolerance * median, 0.005);
    bool uniform = true;
    for (double gap : gaps)
      if (std::abs(gap - median) > tol) uniform = false;
    const double extent = slices.back().d - slices.front().d;
    const double sz = uniform ? extent / double(count - 1) : median;
    // Never extrapolate past the last slice.
    const int nz = uniform ? int(count) : int(std::floor(extent / sz + 0.01)) + 1;

    const V3 p0 = headers_[slices[0].file].frames[slices[0].frame].position;
    double amin = 0, amax = 0, bmin = 0, bmax = 0;
    for (auto& s : slices) {
      const V3 delta = sub(headers_[s.file].frames[s.frame].position, p0);
      s.a = dot(delta, r);
      s.b = dot(delta, c);
      amin = std::min(amin, s.a), amax = std::max(amax, s.a);
      bmin = std::min(bmin, s.b), bmax = std::max(bmax, s.b);
    }
    const bool shear = std::max({-amin, amax, -bmin, bmax}) > options_.shear_tolerance_mm;
    const V3 stack = sub(headers_[slices.back().file].frames[slices.back().frame].position, p0);
    const double cosang = std::clamp(std::abs(dot(stack, n)) / std::max(norm(stack), 1e-12), 0.0, 1.0);
    cand.tilt_deg = std::round(std::acos(cosang) * 180.0 / M_PI * 100.0) / 100.0;
    cand.uniform = uniform;

    int cols = p.cols, rows = p.rows;
    V3 origin = p0;
    if (shear) {
      cols = p.cols + int(std::ceil((amax - amin) / p.sx - 1e-3));
      rows = p.rows + int(std::ceil((bmax - bmin) / p.sy - 1e-3));
      for (int i = 0; i < 3; ++i) origin[i] = p0[i] + amin * r[i] + bmin * c[i];
      for (auto& s : slices) s.a -= amin, s.b -= bmin;
      if (cand.tilt_deg >= 0.05)
        cand.corrections.push_back("gantry tilt " + fmt1(cand.tilt_deg) + " deg resampled");
      else
        cand.corrections.push_back("in-plane slice offsets resampled");
    } else {
      for (auto& s : slices) s.a = 0, s.b = 0;
    }
    if (!uniform) {
      cand.corrections.push_back("non-uniform spacing resampled");
      moduleLogger("pipeline")->info("non-uniform spacing (gaps {}..{} mm, median {}) resampled to {} mm",
                                     fmt2(*std::min_element(gaps.begin(), gaps.end())), fmt2(max_gap), fmt2(median),
                                     fmt2(sz));
    }
    p.resample = shear || !uniform;
    const double d0 = slices[0].d;
    for (auto& s : slices) s.d -= d0;

    cand.decision = VolumeDecision::Renderable;
    const double voxels = double(cols) * rows * nz;
    if (voxels > double(options_.max_voxels)) {
      cand.decision = VolumeDecision::Refused;
      cand.reason = "volume too large (" + std::to_string(cols) + "x" + std::to_string(rows) + "x" +
                    std::to_string(nz) + " voxels)";
    }
    cand.dimensions = {cols, rows, nz};
    cand.spacing = {p.sx, p.sy, sz};
    cand.origin = origin;
    for (int row = 0; row < 3; ++row) {
      cand.direction[row * 3 + 0] = r[row];
      cand.direction[row * 3 + 1] = c[row];
      cand.direction[row * 3 + 2] = n[row];
    }
    std::vector<FrameId> ids;
    for (const auto& s : slices) ids.push_back({s.file, s.frame});
    addFiles(cand, ids);
    p.slices = std::move(slices);
    out_.push_back(std::move(p));
  }

  const std::vector<FileHeader>& headers_;
  const AssemblyOptions& options_;
  std::vector<StackPlan> out_;
};

}  // namespace

std::vector<StackPlan> planSeries(const std::vector<FileHeader>& headers, const AssemblyOptions& options) {
  return Planner(headers, options).run();
}

}  // namespace volnode::detail
