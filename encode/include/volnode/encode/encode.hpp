#pragma once
// Rendered frames and meshes -> standard DICOM objects placed in the source study.
//
//   spin (RGB)        Multi-frame True Color SC   1.2.840.10008.5.1.4.1.1.7.4  (Cine: FrameTime,
//   spin (grey, MIP)  Multi-frame Grayscale Byte SC 1.2.840.10008.5.1.4.1.1.7.2   FramePrimaryAngleVector)
//   key views         one multi-frame object (frames labelled by FrameLabelVector) or one
//                     single-frame object per view (same SOP classes, NumberOfFrames 1)
//   mesh              Encapsulated STL            1.2.840.10008.5.1.4.1.1.104.3 (source FoR, mm)
//
// Every object copies the patient/study attributes of one OutputIdentity and takes
// its UIDs from an ObjectPlan the caller made (and may store): encoding the same
// input with the same plan again gives the same SOP Instance UIDs, so a retry
// never creates duplicates in a PACS. Files are Explicit VR Little Endian,
// written to a temporary name and renamed.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "volnode/core/rendered_frame.hpp"
#include "volnode/encode/output_identity.hpp"
#include "volnode/mesh/mesh.hpp"

namespace volnode {

inline constexpr const char* kSopClassMultiframeTrueColorSc = "1.2.840.10008.5.1.4.1.1.7.4";
inline constexpr const char* kSopClassMultiframeGrayscaleByteSc = "1.2.840.10008.5.1.4.1.1.7.2";
inline constexpr const char* kSopClassEncapsulatedStl = "1.2.840.10008.5.1.4.1.1.104.3";

// The identity of one output object, decided by the caller before encoding.
struct ObjectPlan {
  std::string series_instance_uid;
  std::string sop_instance_uid;
  int series_number = 9001;
  int instance_number = 1;
  std::string series_description;  // at most 64 characters (longer is cut, on a UTF-8 boundary)
  // Series/Content/InstanceCreation date and time, "YYYYMMDDHHMMSS"; empty: now.
  // Store it with the UIDs to re-encode byte-identical objects.
  std::string created;
};

// A plan with fresh UIDs (uid_root empty: 2.25.<UUID>) and `created` = now.
ObjectPlan planObject(const std::string& uid_root, int series_number, const std::string& series_description);
// One series of `count` instances (single-frame key views): one series UID,
// instance numbers 1..count, one SOP UID each.
std::vector<ObjectPlan> planSeries(const std::string& uid_root, int series_number,
                                   const std::string& series_description, int count);

// What the encoder writes about itself (General/Enhanced General Equipment, SC Equipment).
struct EquipmentInfo {
  std::string manufacturer = "volnode";
  std::string model_name = "volnode";
  std::string software_version = VOLNODE_VERSION;
  std::string device_serial_number = "0";  // Type 1 for meshes; e.g. the node's AE title
};

enum class RenderKind { VolumeRendering, Mip, Surface };

// How a set of frames was made (ImageType value 3, DerivationDescription and -CodeSequence).
struct FramesInfo {
  RenderKind kind = RenderKind::VolumeRendering;
  std::string preset;             // e.g. "ct-bone", goes into DerivationDescription
  double frame_time_ms = 100;     // spins: Cine FrameTime
  // RecognizableVisualFeatures YES (head renders that may show a face).
  bool recognizable_visual_features = false;
  EquipmentInfo equipment;
};

enum class KeyViewsMode { Multiframe, Single };
KeyViewsMode parseKeyViewsMode(const std::string& text);  // "multiframe" | "single"; Error(InvalidConfig)

struct EncodedObject {
  std::filesystem::path path;
  std::string sop_class_uid;
  std::string sop_instance_uid;
  std::string series_instance_uid;
  std::string series_description;
  int frames = 0;                // 0 for documents (STL)
  uintmax_t size_bytes = 0;
};

// A spin loop: all frames the same size and channels (3: True Color, 1: Grayscale
// Byte); FramePrimaryAngleVector holds each frame's angle_deg. BurnedInAnnotation
// is YES when any frame has identifiers_drawn. Writes out_dir/<file> and returns it.
// Throws Error(InvalidArgument) for empty or inconsistent frames or a bad plan,
// Error(Io) when the file cannot be written.
EncodedObject encodeSpin(const OutputIdentity& identity, const ObjectPlan& plan,
                         const std::vector<RenderedFrame>& frames, const FramesInfo& info,
                         const std::filesystem::path& out_dir);

// Key views. Multiframe: plans.size() == 1, one object whose frames are labelled
// with the view names (FrameLabelVector). Single: plans.size() == frames.size(),
// one single-frame object per view (normally planSeries(): one series).
std::vector<EncodedObject> encodeKeyViews(const OutputIdentity& identity, const std::vector<ObjectPlan>& plans,
                                          const std::vector<RenderedFrame>& frames, const FramesInfo& info,
                                          KeyViewsMode mode, const std::filesystem::path& out_dir);

// What a mesh is (DocumentTitle, DerivationDescription).
struct MeshInfo {
  std::string title = "Bone surface";  // DocumentTitle
  double threshold = 0;                // iso-value used, physical units
  size_t triangles = 0;
  bool identifiers_embossed = false;   // BurnedInAnnotation
  EquipmentInfo equipment;
};

// A binary STL file (in the source's patient coordinates, mm) as Encapsulated STL
// in the source's Frame of Reference. Throws Error(InvalidArgument) for a file that
// is not binary STL, Error(InvalidDicom) when the identity has no FrameOfReferenceUID.
EncodedObject encodeStl(const OutputIdentity& identity, const ObjectPlan& plan, const std::filesystem::path& stl,
                        const MeshInfo& info, const std::filesystem::path& out_dir);

// "3D VR Bone spin", "3D MIP spin", "3D VR Bone key views", "3D model Bone": the
// series description an output of this preset gets.
std::string describeOutput(const std::string& what, const std::string& preset, RenderKind kind);

// Short name of a SOP class ("MF True Color SC", "MF Grayscale Byte SC", "Encapsulated STL").
std::string sopClassName(const std::string& sop_class_uid);

}  // namespace volnode
