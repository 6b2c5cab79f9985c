// How outputs are named: the series description of each rendered output and a short
// name for each SOP class the node writes.
#include <cctype>

#include "dicom_common.hpp"

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


}  // namespace

std::string describeOutput(const std::string& what, const std::string& preset, RenderKind kind) {
  std::string name = prettyPreset(preset);
  if (kind == RenderKind::Mip) {
    if (name == "Mip") name.clear();
    if (name.size() > 4 && name.compare(name.size() - 4, 4, " Mip") == 0) name.resize(name.size() - 4);  // "Angio Mip"
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

}  // namespace volnode
