#pragma once
// Routing rules: which outputs (renders, meshes) a series gets and where they go.
// Rules are JSON files in presets/rules/ with a versioned schema ("schema": 1):
//
// {
//   "schema": 1,
//   "rules": [
//     { "name": "no-localizers", "match": { "image_type": ["LOCALIZER"] }, "render": false,
//       "reason": "localizer (scout) image" },
//     { "name": "ct-bundle",
//       "match": { "modality": ["CT"], "min_slices": 20 },
//       "outputs": [ { "type": "vr_spin", "preset": "ct-bone" },
//                    { "type": "mip_spin", "preset": "ct-mip" },
//                    { "type": "key_views", "preset": "ct-bone" },
//                    { "type": "mesh" },
//                    { "type": "reformat", "plane": "coronal", "thickness_mm": 3, "spacing_mm": 3 },
//                    { "type": "reformat", "plane": "axial", "mode": "mip", "thickness_mm": 10,
//                      "spacing_mm": 5, "window": [300, 700], "window_name": "ANGIO",
//                      "description": "AX MIP 10mm" } ],
//       "destinations": ["pacs"],            // default ["pacs"]
//       "mesh_threshold_hu": 250,            // default 250
//       "mesh_min_island_mm3": 200,          // default 200: every bone above it is kept
//       "preprocess": { "isotropic": true, "max_voxels": 64000000, "smoothing": "none",
//                       "crop_body": false, "clamp": [-1024, 3071] } }
//   ]
// }
//
// Match keys (all optional, all must hold): modality (list), body_part (list, case-insensitive),
// series_description / protocol_name (ECMAScript regex, case-insensitive, searched),
// series_text (regex searched in the series description and the protocol name: either may hold),
// study_text (regex searched in the study description),
// min_slices / max_slices, calling_ae (list), image_type (list: any of these values present),
// sop_class (list of UIDs or UID prefixes ending in '.'), mr_acquisition_type (list),
// contrast (true: ContrastBolusAgent set; false: not), kernel (regex on ConvolutionKernel),
// min_slice_thickness_mm / max_slice_thickness_mm (SliceThickness; unknown never matches).
// Rules are tried in file order (files of a directory in name order); the first that
// matches decides. A matching rule with "render": false means "never render"; its "reason"
// says why (shown by `volnode inspect` and in the series' state).
//
// Reformats (type "reformat"): plane axial | coronal | sagittal, mode average (MPR) | mip
// (thick slab), thickness_mm (default 3; 0: one plane), spacing_mm (default 3), optional
// window [centre, width] with window_name, bone_removed (CT: reformat the volume with the
// bone removed, see volume/bone_removal.hpp), and description (SeriesDescription; default
// "COR 3mm", "SAG 3mm", "AX MIP 10mm", then "bone removed" when so, then the window name:
// "COR 3mm LUNG", "COR MIP 20mm bone removed"). Each becomes one series of CT/MR images.
// Oblique reformats: the plane angled as on a scanner console, tilt_deg then turn_deg
// (degrees, [-90, 90], default 0), e.g. { "type": "reformat", "plane": "coronal",
// "tilt_deg": 20 } for coronal slices whose top edge leans 20 degrees anterior:
//   tilt_deg  about the image's horizontal axis (axial, coronal: the patient's left-right
//             axis; sagittal: the anterior-posterior axis). Positive: axial slices climb
//             towards the head posteriorly; coronal tops lean anterior; sagittal tops lean
//             to the patient's left.
//   turn_deg  then about the image's vertical axis (axial: anterior-posterior; coronal,
//             sagittal: head-feet). Positive: axial rows descend towards the feet on
//             the patient's left; coronal and sagittal rows swing so the image's right edge
//             comes forward (coronal) or to the patient's left (sagittal).
// The series are written in that exact plane (ImageOrientationPatient) and described
// "COR OBL 3mm" (angles in the derivation description).
#include <filesystem>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "volnode/core/preprocess_options.hpp"

namespace volnode {

// What a rule is matched against (one series, or one volume of it).
struct SeriesAttributes {
  std::string modality;
  std::string body_part_examined;
  std::string series_description;
  std::string protocol_name;
  std::string calling_ae_title;
  std::string sop_class_uid;
  std::string mr_acquisition_type;
  std::vector<std::string> image_type;
  int slice_count = 0;
  std::string contrast_bolus_agent;  // "" when none
  std::string convolution_kernel;
  double slice_thickness_mm = 0;     // 0: unknown
  std::string study_description;
};

// Parameters of a "reformat" output.
struct ReformatParams {
  std::string plane = "coronal";  // axial | coronal | sagittal
  std::string mode = "average";   // average | mip
  double thickness_mm = 3;
  double spacing_mm = 3;
  std::optional<std::pair<double, double>> window;  // centre, width
  std::string window_name;
  bool bone_removed = false;  // CT: from the volume with the bone removed
  double tilt_deg = 0;        // oblique: about the image's horizontal axis, then
  double turn_deg = 0;        // about its vertical axis (see above)
  std::string description;  // SeriesDescription; empty: describe() below
};

struct RuleOutput {
  std::string type;    // "vr_spin", "mip_spin", "key_views", "mesh", "reformat"
  std::string preset;  // "ct-bone", "ct-angio", "ct-angio-vessels", "ct-mip", ... (see kPresets); may be empty for "mesh" and "reformat"
  ReformatParams reformat;  // for "reformat"

  // Unique within a rule: "vr_spin:ct-bone", "reformat:coronal-average-3-3", "reformat:axial-mip-10-5-LUNG".
  std::string key() const;
  // For reformats: the series description a technologist would write ("COR 3mm", "AX MIP 10mm LUNG").
  std::string reformatDescription() const;
};

struct RuleMatch {
  std::vector<std::string> modality;
  std::vector<std::string> body_part;
  std::optional<std::string> series_description;  // regex
  std::optional<std::string> protocol_name;       // regex
  std::optional<std::string> series_text;         // regex, description or protocol name
  std::optional<std::string> study_text;          // regex on the study description
  std::optional<int> min_slices;
  std::optional<int> max_slices;
  std::vector<std::string> calling_ae;
  std::vector<std::string> image_type;
  std::vector<std::string> sop_class;
  std::vector<std::string> mr_acquisition_type;
  std::optional<bool> contrast;                    // ContrastBolusAgent present (true) or absent (false)
  std::optional<std::string> kernel;               // regex on ConvolutionKernel
  std::optional<double> min_slice_thickness_mm;   // SliceThickness bounds (unknown thickness never matches)
  std::optional<double> max_slice_thickness_mm;
};

struct RoutingRule {
  std::string name;
  std::string source;        // file it came from
  RuleMatch match;
  bool render = true;        // false: matching series are never rendered
  std::string reason;        // why a non-rendering rule declines ("diffusion-weighted series"); may be empty
  std::vector<RuleOutput> outputs;
  std::vector<std::string> destinations{"pacs"};
  double mesh_threshold_hu = 250;
  double mesh_min_island_mm3 = 200;  // surface parts enclosing less are dropped (specks), all others kept
  PreprocessOptions preprocess;

  bool matches(const SeriesAttributes& attributes) const;
  // Why a matching rule matches: one line per condition that held, with the value
  // that met it ("series description \"CTA Aorta\" contains \"CTA\"", "ContrastBolusAgent
  // \"OMNIPAQUE 350\""); for `volnode inspect`. Empty when the rule does not match.
  std::vector<std::string> explain(const SeriesAttributes& attributes) const;
  std::vector<std::string> presets() const;  // distinct presets of the outputs, in order
  // "not rendered: <reason> (rule <name>)", or "not rendered: rule <name>" without a reason.
  std::string refusal() const;
};

class RuleSet {
 public:
  static constexpr int kSchemaVersion = 1;

  // Parses one JSON document. `source` names it in error messages.
  // Throws volnode::Error(Errc::InvalidConfig) "<source>: <what is wrong>".
  static RuleSet parse(const std::string& json_text, const std::string& source = "<rules>");
  // Loads one file (Errc::Io when unreadable, Errc::InvalidConfig when wrong).
  static RuleSet loadFile(const std::filesystem::path& file);
  // Loads every *.json in a directory, in file-name order, rules concatenated.
  static RuleSet loadDirectory(const std::filesystem::path& dir);
  // The built-in defaults (presets/rules/default.json embedded at build time).
  static RuleSet defaults();
  // The rules of a presets folder: <presets_dir>/rules when it exists, else the defaults.
  static RuleSet forPresets(const std::filesystem::path& presets_dir);

  // The first rule that matches, or nullptr.
  const RoutingRule* firstMatch(const SeriesAttributes& attributes) const;
  // Why nothing matches, for a series no rule matches: "not rendered: no routing rule
  // matches", naming the first rendering rule that only the slice count kept out ("rule
  // ct-bundle needs at least 20 slices; the stack has 12"): a stack cut short by a gap or
  // a push that stopped midway.
  std::string noMatchReason(const SeriesAttributes& attributes) const;
  // The rule to render with: the first matching rule when it renders, else nothing.
  std::optional<RoutingRule> match(const SeriesAttributes& attributes) const;

  const std::vector<RoutingRule>& rules() const { return rules_; }
  void append(const RuleSet& other);

 private:
  std::vector<RoutingRule> rules_;
};

}  // namespace volnode
