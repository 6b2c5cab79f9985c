// All outputs of one series: OUT/dicom/*.dcm and OUT/mesh/*.stl.
#include <cctype>
#include <cstdio>
#include <sstream>

#include "dicom_common.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {

namespace {

// "ct-bone" -> "Bone", "ct-soft-tissue" -> "Soft Tissue", "mr-head" -> "Head".
std::string prettyPreset(const std::string& preset) {
  std::string name = preset;
  for (const char* prefix : {"ct-", "mr-", "pt-", "CT-", "MR-"})
    if (name.rfind(prefix, 0) == 0) name = name.substr(3);
  std::string out;
  bool start = true;
  for (char c : name) {
    if (c == '-' || c == '_') {
      out += ' ';
      start = true;
      continue;
    }
    out += start ? char(std::toupper(static_cast<unsigned char>(c))) : c;
    start = false;
  }
  return out;
}

std::string humanSize(uintmax_t bytes) {
  char buf[32];
  if (bytes >= 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1024.0 * 1024.0));
  else
    std::snprintf(buf, sizeof buf, "%.1f KiB", double(bytes) / 1024.0);
  return buf;
}

}  // namespace

std::string describeOutput(const std::string& what, const std::string& preset, RenderKind kind) {
  std::string name = prettyPreset(preset);
  if (kind == RenderKind::Mip) {
    if (name == "Mip") name.clear();
    return "3D MIP " + (name.empty() ? "" : name + " ") + what;
  }
  if (what == "model") return "3D model " + (name.empty() ? std::string("Bone") : name);
  return "3D VR " + (name.empty() ? "" : name + " ") + what;
}

std::string sopClassName(const std::string& uid) {
  if (uid == kSopClassMultiframeTrueColorSc) return "MF True Color SC";
  if (uid == kSopClassMultiframeGrayscaleByteSc) return "MF Grayscale Byte SC";
  if (uid == kSopClassEncapsulatedStl) return "Encapsulated STL";
  return uid;
}

std::vector<BundleSummaryLine> BundleResult::summary() const {
  std::vector<BundleSummaryLine> lines;
  for (const auto& o : objects) lines.push_back({o.sop_class_uid, o.series_description, o.size_bytes, o.path});
  return lines;
}

std::string BundleResult::summaryText() const {
  std::ostringstream out;
  for (const auto& o : objects) {
    char line[256];
    std::snprintf(line, sizeof line, "%-22s %-40s %4d frames %10s  %s\n", sopClassName(o.sop_class_uid).c_str(),
                  o.series_description.c_str(), o.frames, humanSize(o.size_bytes).c_str(),
                  o.path.filename().string().c_str());
    out << line;
  }
  for (const auto& m : meshes) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(m, ec);
    out << "mesh (binary STL)       " << m.filename().string() << "  " << humanSize(ec ? 0 : size) << "\n";
  }
  return out.str();
}

BundleResult writeEncodedBundle(const OutputIdentity& identity, const BundleInput& input, const BundleOptions& options,
                                const std::filesystem::path& out_dir) {
  const auto dicom_dir = out_dir / "dicom", mesh_dir = out_dir / "mesh";
  BundleResult result;
  int series_number = options.series_number_base;
  auto frames_info = [&](const BundleFrames& b) {
    FramesInfo info;
    info.kind = b.kind;
    info.preset = b.preset;
    info.frame_time_ms = options.frame_time_ms;
    info.recognizable_visual_features = options.recognizable_visual_features && b.kind != RenderKind::Mip;
    info.equipment = options.equipment;
    return info;
  };
  for (const BundleFrames& spin : input.spins) {
    if (spin.frames.empty()) continue;
    const auto plan = planObject(options.uid_root, series_number++,
                                 options.description_prefix + describeOutput("spin", spin.preset, spin.kind));
    result.objects.push_back(encodeSpin(identity, plan, spin.frames, frames_info(spin), dicom_dir));
  }
  for (const BundleFrames& views : input.key_views) {
    if (views.frames.empty()) continue;
    const std::string description = options.description_prefix + describeOutput("key views", views.preset, views.kind);
    const auto plans = options.key_views == KeyViewsMode::Multiframe
                           ? std::vector<ObjectPlan>{planObject(options.uid_root, series_number, description)}
                           : planSeries(options.uid_root, series_number, description, int(views.frames.size()));
    ++series_number;
    for (auto& o : encodeKeyViews(identity, plans, views.frames, frames_info(views), options.key_views, dicom_dir))
      result.objects.push_back(std::move(o));
  }
  if (input.mesh != nullptr && !input.mesh->empty()) {
    const std::string description = options.description_prefix + describeOutput("model", "", RenderKind::Surface);
    const auto plan = planObject(options.uid_root, series_number++, description);
    const auto stl = mesh_dir / (identity.sourceSeriesInstanceUid() + "-" + encode_detail::slug(description) + ".stl");
    writeBinaryStl(*input.mesh, stl);
    result.meshes.push_back(stl);
    MeshInfo info = input.mesh_info;
    info.triangles = input.mesh->triangleCount();
    info.equipment = options.equipment;
    result.objects.push_back(encodeStl(identity, plan, stl, info, dicom_dir));
  }
  moduleLogger("pipeline")->info("encoded {} DICOM objects and {} meshes of series {} into {}", result.objects.size(),
                                 result.meshes.size(), identity.sourceSeriesInstanceUid(), out_dir.string());
  return result;
}

}  // namespace volnode
