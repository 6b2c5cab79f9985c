// Rendered frames -> Multi-frame True Color / Grayscale Byte Secondary Capture.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcvrat.h>

#include <cmath>
#include <set>

#include "dicom_common.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

using namespace encode_detail;

const char* imageTypeTerm(RenderKind kind) {
  switch (kind) {
    case RenderKind::Mip: return "MIP";
    case RenderKind::Surface: return "SURFACE";
    default: return "VOLUME RENDERING";
  }
}

void putDerivation(DcmDataset& d, const OutputIdentity& identity, const FramesInfo& info) {
  const char* what = info.kind == RenderKind::Mip       ? "Maximum intensity projection"
                     : info.kind == RenderKind::Surface ? "Surface rendering"
                                                        : "Volume rendering";
  std::string text = std::string(what) + " of series " + identity.sourceSeriesInstanceUid();
  if (!info.preset.empty()) text += ", preset " + info.preset;
  text += ", " + info.equipment.manufacturer + " " + info.equipment.software_version;
  check(d.putAndInsertString(DCM_DerivationDescription, safeText(identity, text, 1024).c_str()), "DerivationDescription");
  const char* code = info.kind == RenderKind::Mip ? "113078" : info.kind == RenderKind::Surface ? "113075" : "113074";
  addCode(d, DCM_DerivationCodeSequence, code, "DCM", what);
}

void checkFrames(const std::vector<RenderedFrame>& frames) {
  if (frames.empty()) throw Error(Errc::InvalidArgument, "no frames to encode");
  const RenderedFrame& f0 = frames.front();
  if (f0.channels != 1 && f0.channels != 3)
    throw Error(Errc::InvalidArgument, "frames must have 1 (grey) or 3 (RGB) channels, not " + std::to_string(f0.channels));
  if (f0.width <= 0 || f0.height <= 0 || f0.width > 65535 || f0.height > 65535)
    throw Error(Errc::InvalidArgument, "frame size out of range");
  for (const RenderedFrame& f : frames) {
    if (f.width != f0.width || f.height != f0.height || f.channels != f0.channels)
      throw Error(Errc::InvalidArgument, "frames of one object differ in size or channels ('" + f.view + "' vs '" +
                                             f0.view + "')");
    if (f.pixels.size() != size_t(f.width) * f.height * f.channels)
      throw Error(Errc::InvalidArgument, "frame '" + f.view + "' has " + std::to_string(f.pixels.size()) +
                                             " bytes, expected width x height x channels");
  }
}

// PatientOrientation from the letters at the right and bottom edges, when they are plain DICOM letters.
std::string patientOrientation(const RenderedFrame& f) {
  auto valid = [](const std::string& s) {
    if (s.empty()) return false;
    for (char c : s)
      if (std::string("APRLHF").find(c) == std::string::npos) return false;
    return true;
  };
  const std::string& right = f.edge_letters[1];
  const std::string& bottom = f.edge_letters[3];
  if (!valid(right) || !valid(bottom)) return {};
  return right + "\\" + bottom;
}

enum class FrameIndexing { Cine, Labels, None };

EncodedObject encodeFrames(const OutputIdentity& identity, const ObjectPlan& plan,
                           const std::vector<RenderedFrame>& frames, const FramesInfo& info,
                           FrameIndexing indexing, const std::filesystem::path& out_dir) {
  checkPlan(plan);
  checkFrames(frames);
  const RenderedFrame& f0 = frames.front();
  const bool colour = f0.channels == 3;
  const char* sop_class = colour ? kSopClassMultiframeTrueColorSc : kSopClassMultiframeGrayscaleByteSc;

  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  putIdentity(d, identity);
  putSeriesAndInstance(d, identity, plan, sop_class, identity.modality());

  // General Equipment, SC Equipment
  check(d.putAndInsertString(DCM_Manufacturer, info.equipment.manufacturer.c_str()), "Manufacturer");
  check(d.putAndInsertString(DCM_ConversionType, "WSD"), "ConversionType");
  check(d.putAndInsertString(DCM_SecondaryCaptureDeviceManufacturer, info.equipment.manufacturer.c_str()),
        "SecondaryCaptureDeviceManufacturer");
  check(d.putAndInsertString(DCM_SecondaryCaptureDeviceManufacturerModelName, info.equipment.model_name.c_str()),
        "SecondaryCaptureDeviceManufacturerModelName");
  check(d.putAndInsertString(DCM_SecondaryCaptureDeviceSoftwareVersions, info.equipment.software_version.c_str()),
        "SecondaryCaptureDeviceSoftwareVersions");

  // General Image, General Reference
  const std::string image_type = std::string("DERIVED\\SECONDARY\\") + imageTypeTerm(info.kind);
  check(d.putAndInsertString(DCM_ImageType, image_type.c_str()), "ImageType");
  const std::string orientation = frames.size() == 1 ? patientOrientation(f0) : std::string();
  check(d.putAndInsertString(DCM_PatientOrientation, orientation.c_str()), "PatientOrientation");
  putDerivation(d, identity, info);
  putSourceImages(d, identity.sourceInstances());
  putReferencedSeries(d, identity);

  // Image Pixel
  check(d.putAndInsertUint16(DCM_SamplesPerPixel, colour ? 3 : 1), "SamplesPerPixel");
  check(d.putAndInsertString(DCM_PhotometricInterpretation, colour ? "RGB" : "MONOCHROME2"), "PhotometricInterpretation");
  if (colour) check(d.putAndInsertUint16(DCM_PlanarConfiguration, 0), "PlanarConfiguration");
  check(d.putAndInsertUint16(DCM_Rows, Uint16(f0.height)), "Rows");
  check(d.putAndInsertUint16(DCM_Columns, Uint16(f0.width)), "Columns");
  check(d.putAndInsertUint16(DCM_BitsAllocated, 8), "BitsAllocated");
  check(d.putAndInsertUint16(DCM_BitsStored, 8), "BitsStored");
  check(d.putAndInsertUint16(DCM_HighBit, 7), "HighBit");
  check(d.putAndInsertUint16(DCM_PixelRepresentation, 0), "PixelRepresentation");

  // SC Multi-frame Image
  bool burned_in = false;
  for (const RenderedFrame& f : frames) burned_in = burned_in || f.identifiers_drawn;
  check(d.putAndInsertString(DCM_BurnedInAnnotation, burned_in ? "YES" : "NO"), "BurnedInAnnotation");
  check(d.putAndInsertString(DCM_RecognizableVisualFeatures, info.recognizable_visual_features ? "YES" : "NO"),
        "RecognizableVisualFeatures");
  if (!colour) {
    check(d.putAndInsertString(DCM_PresentationLUTShape, "IDENTITY"), "PresentationLUTShape");
    check(d.putAndInsertString(DCM_RescaleIntercept, "0"), "RescaleIntercept");
    check(d.putAndInsertString(DCM_RescaleSlope, "1"), "RescaleSlope");
    check(d.putAndInsertString(DCM_RescaleType, "US"), "RescaleType");
  }

  // Multi-frame, Cine, SC Multi-frame Vector
  check(d.putAndInsertString(DCM_NumberOfFrames, std::to_string(frames.size()).c_str()), "NumberOfFrames");
  if (frames.size() > 1 && indexing != FrameIndexing::None) {
    auto* pointer = new DcmAttributeTag(DCM_FrameIncrementPointer);
    if (indexing == FrameIndexing::Cine) {
      check(pointer->putTagVal(DCM_FrameTime, 0), "FrameIncrementPointer");
      check(pointer->putTagVal(DCM_FramePrimaryAngleVector, 1), "FrameIncrementPointer");
      const double frame_time = info.frame_time_ms > 0 ? info.frame_time_ms : 100;
      check(d.putAndInsertString(DCM_FrameTime, formatDs(frame_time).c_str()), "FrameTime");
      const long rate = std::max(1L, std::lround(1000.0 / frame_time));
      check(d.putAndInsertString(DCM_CineRate, std::to_string(rate).c_str()), "CineRate");
      check(d.putAndInsertString(DCM_RecommendedDisplayFrameRate, std::to_string(rate).c_str()),
            "RecommendedDisplayFrameRate");
      std::string angles;
      for (const RenderedFrame& f : frames) angles += (angles.empty() ? "" : "\\") + formatDs(f.angle_deg);
      check(d.putAndInsertString(DCM_FramePrimaryAngleVector, angles.c_str()), "FramePrimaryAngleVector");
    } else {
      check(pointer->putTagVal(DCM_FrameLabelVector, 0), "FrameIncrementPointer");
      std::string labels;
      for (const RenderedFrame& f : frames) labels += (labels.empty() ? "" : "\\") + safeText(identity, f.view, 16);
      check(d.putAndInsertString(DCM_FrameLabelVector, labels.c_str()), "FrameLabelVector");
    }
    check(d.insert(pointer, true), "FrameIncrementPointer");
  }

  // Pixel data: frames one after another, RGB interleaved (PlanarConfiguration 0).
  const size_t frame_bytes = f0.pixels.size();
  std::vector<Uint8> pixels;
  pixels.reserve(frame_bytes * frames.size() + 1);
  for (const RenderedFrame& f : frames) pixels.insert(pixels.end(), f.pixels.begin(), f.pixels.end());
  check(d.putAndInsertUint8Array(DCM_PixelData, pixels.data(), unsigned(pixels.size())), "PixelData");

  return saveObject(file, identity, plan, sop_class, int(frames.size()), out_dir);
}

}  // namespace

KeyViewsMode parseKeyViewsMode(const std::string& text) {
  if (text == "multiframe") return KeyViewsMode::Multiframe;
  if (text == "single") return KeyViewsMode::Single;
  throw Error(Errc::InvalidConfig, "key_views must be \"multiframe\" or \"single\", not \"" + text + "\"");
}

EncodedObject encodeSpin(const OutputIdentity& identity, const ObjectPlan& plan, const std::vector<RenderedFrame>& frames,
                         const FramesInfo& info, const std::filesystem::path& out_dir) {
  return encodeFrames(identity, plan, frames, info, FrameIndexing::Cine, out_dir);
}

std::vector<EncodedObject> encodeKeyViews(const OutputIdentity& identity, const std::vector<ObjectPlan>& plans,
                                          const std::vector<RenderedFrame>& frames, const FramesInfo& info,
                                          KeyViewsMode mode, const std::filesystem::path& out_dir) {
  if (mode == KeyViewsMode::Multiframe) {
    if (plans.size() != 1)
      throw Error(Errc::InvalidArgument, "multi-frame key views take exactly one plan, got " + std::to_string(plans.size()));
    return {encodeFrames(identity, plans.front(), frames, info, FrameIndexing::Labels, out_dir)};
  }
  if (plans.size() != frames.size())
    throw Error(Errc::InvalidArgument, "single-frame key views take one plan per view: " + std::to_string(plans.size()) +
                                           " plans for " + std::to_string(frames.size()) + " views");
  std::set<std::string> uids;
  for (const auto& p : plans) uids.insert(p.sop_instance_uid);
  if (uids.size() != plans.size()) throw Error(Errc::InvalidArgument, "key view plans repeat a SOPInstanceUID");
  std::vector<EncodedObject> out;
  for (size_t i = 0; i < frames.size(); ++i)
    out.push_back(encodeFrames(identity, plans[i], {frames[i]}, info, FrameIndexing::None, out_dir));
  return out;
}

}  // namespace volnode
