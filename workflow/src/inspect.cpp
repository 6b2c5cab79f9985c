#include "volnode/workflow/inspect.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {

SeriesAttributes attributesFor(const SeriesInfo& info, const VolumeCandidate& volume,
                               const std::string& calling_ae_title) {
  SeriesAttributes a;
  a.modality = info.modality;
  a.body_part_examined = info.body_part_examined;
  a.series_description = info.series_description;
  a.protocol_name = info.protocol_name;
  a.study_description = info.study_description;
  a.calling_ae_title = calling_ae_title;
  a.sop_class_uid = info.sop_class_uid;
  a.mr_acquisition_type = info.mr_acquisition_type;
  a.image_type = info.image_type;
  a.slice_count = volume.dimensions[2] > 0 ? volume.dimensions[2] : int(volume.source_frames);
  a.contrast_bolus_agent = info.contrast_bolus_agent;
  a.convolution_kernel = info.convolution_kernel;
  a.slice_thickness_mm = std::atof(info.slice_thickness.c_str());
  return a;
}

InspectReport inspectDirectory(const std::filesystem::path& dir, const RuleSet* rules, const AssemblyOptions& options) {
  DirectoryScan scan = scanDirectory(dir, options);
  InspectReport report;
  report.root = dir;
  report.skipped_files = scan.skipped_files;
  for (auto& a : scan.series) {
    InspectedSeries s;
    s.info = a.info;
    s.instances = a.instances;
    s.decision = a.decision;
    s.reason = a.reason;
    for (auto& v : a.volumes) {
      InspectedVolume iv;
      iv.why = v.reason;
      if (rules && v.decision == VolumeDecision::Renderable) {
        const SeriesAttributes attributes = attributesFor(a.info, v);
        const RoutingRule* r = rules->firstMatch(attributes);
        if (!r) {
          iv.why = rules->noMatchReason(attributes);
        } else if (!r->render) {
          iv.matched_rule = r->name;
          iv.why = r->refusal();
        } else {
          iv.rule = iv.matched_rule = r->name;
          iv.because = r->explain(attributes);
          iv.why = "rule " + r->name;
          for (size_t i = 0; i < iv.because.size(); ++i) iv.why += (i ? ", " : ": ") + iv.because[i];
          iv.presets = r->presets();
          for (const auto& o : r->outputs) iv.outputs.push_back(o.type == "reformat" ? o.reformatDescription() : o.key());
        }
      }
      iv.candidate = std::move(v);
      s.volumes.push_back(std::move(iv));
    }
    report.series.push_back(std::move(s));
  }
  std::sort(report.series.begin(), report.series.end(), [](const InspectedSeries& a, const InspectedSeries& b) {
    return std::tie(a.info.modality, a.info.series_description, a.info.series_instance_uid) <
           std::tie(b.info.modality, b.info.series_description, b.info.series_instance_uid);
  });
  return report;
}

namespace {

double round3(double v) { return std::round(v * 1000.0) / 1000.0; }
double round6(double v) {
  const double r = std::round(v * 1e6) / 1e6;
  return r == 0 ? 0.0 : r;  // no "-0"
}

}  // namespace

std::string toJson(const InspectReport& report) {
  using json = nlohmann::ordered_json;
  json root;
  root["series"] = json::array();
  for (const auto& s : report.series) {
    json js;
    js["SeriesInstanceUID"] = s.info.series_instance_uid;
    js["Modality"] = s.info.modality;
    js["SeriesDescription"] = s.info.series_description;
    js["instances"] = s.instances;
    js["decision"] = decisionName(s.decision);
    js["reason"] = s.reason;
    js["volumes"] = json::array();
    for (const auto& iv : s.volumes) {
      const VolumeCandidate& v = iv.candidate;
      json jv;
      jv["dimensions"] = {v.dimensions[0], v.dimensions[1], v.dimensions[2]};
      jv["spacing"] = {round6(v.spacing[0]), round6(v.spacing[1]), round6(v.spacing[2])};
      jv["origin"] = {round3(v.origin[0]) + 0.0, round3(v.origin[1]) + 0.0, round3(v.origin[2]) + 0.0};
      json dir = json::array();
      for (double d : v.direction) dir.push_back(round6(d));
      jv["direction"] = dir;
      jv["tilt_deg"] = v.tilt_deg;
      jv["uniform"] = v.uniform;
      jv["decision"] = decisionName(v.decision);
      jv["reason"] = v.reason;
      jv["corrections"] = v.corrections;
      jv["label"] = v.label;
      jv["rule"] = iv.rule.empty() ? json(nullptr) : json(iv.rule);
      jv["matched_rule"] = iv.matched_rule.empty() ? json(nullptr) : json(iv.matched_rule);
      jv["why"] = iv.why;
      jv["because"] = iv.because;
      jv["presets"] = iv.presets;
      jv["outputs"] = iv.outputs;
      js["volumes"].push_back(jv);
    }
    root["series"].push_back(js);
  }
  root["skipped_files"] = report.skipped_files;
  return root.dump(2);
}

std::string toText(const InspectReport& report) {
  std::ostringstream out;
  out << report.series.size() << " series in " << report.root.string();
  if (report.skipped_files) out << " (" << report.skipped_files << " non-DICOM files skipped)";
  out << "\n";
  char buf[512];
  for (const auto& s : report.series) {
    out << "\n" << s.info.modality << "  \"" << s.info.series_description << "\"  " << s.instances
        << " instances  " << decisionName(s.decision);
    if (!s.reason.empty()) out << ": " << s.reason;
    out << "\n  " << s.info.series_instance_uid << "\n";
    for (const auto& iv : s.volumes) {
      const VolumeCandidate& v = iv.candidate;
      std::snprintf(buf, sizeof buf, "  - %dx%dx%d  %.3gx%.3gx%.3g mm  tilt %.1f  %s", v.dimensions[0],
                    v.dimensions[1], v.dimensions[2], v.spacing[0], v.spacing[1], v.spacing[2], v.tilt_deg,
                    decisionName(v.decision));
      out << buf;
      if (!v.reason.empty()) out << ": " << v.reason;
      if (!v.label.empty()) out << "  [" << v.label << "]";
      for (const auto& c : v.corrections) out << "  {" << c << "}";
      if (!iv.rule.empty()) out << "  rule " << iv.rule;
      else if (!iv.matched_rule.empty()) out << "  " << iv.why;
      out << "\n";
    }
  }
  return out.str();
}

}  // namespace volnode
