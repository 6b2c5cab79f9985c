#pragma once
// Series -> volumes. Turns the files of one DICOM series into zero or more
// geometrically correct volumes in patient (LPS) coordinates, or says why not.
//
// Two speeds:
//  - scanSeries(): headers only (no pixel decoding). Geometry, decision and
//    corrections of every volume candidate. Cheap: what `volnode inspect` and
//    the node's completion checks use.
//  - assembleSeries(): the same plan, plus the voxels of the renderable
//    candidates when options.load_voxels is set. Pixels are decoded slice by
//    slice (GDCM, every transfer syntax incl. JPEG 2000) straight into the
//    int16 buffer; gantry tilt and non-uniform spacing are resampled on the fly.
//
// Rules of the plan (never SliceThickness/SpacingBetweenSlices/InstanceNumber):
//  - frames are grouped by orientation, matrix size, pixel spacing, echo,
//    temporal position, image type; localizers, secondary captures, SR and
//    frames without position/orientation are refused with a reason;
//  - each group is sorted by ImagePositionPatient projected on the slice normal;
//    repeated positions (phases, echoes without tags) split into one volume per
//    repetition; a single position is "not a volume (N slices at one position)";
//  - gaps up to 2x the median are resampled to the median spacing; larger gaps
//    split the stack; in-plane slice offsets (gantry tilt) are resampled onto a
//    regular grid whose third axis is the slice normal.
// Malformed input gives refused candidates, never an exception; only IO errors
// (a file that cannot be opened at all when decoding) throw volnode::Error.
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "volnode/volume/stack_prefetch.hpp"
#include "volnode/volume/volume.hpp"

namespace volnode {

enum class VolumeDecision { Renderable, Refused };
const char* decisionName(VolumeDecision d) noexcept;  // "renderable" / "refused"

struct AssemblyOptions {
  bool load_voxels = true;          // false: headers only (same as scanSeries)
  int min_slices = 3;               // fewer distinct positions -> "too few slices (N)"
  double max_gap_ratio = 2.0;       // gaps up to this x median are resampled, larger ones split
  double uniform_tolerance = 0.02;  // relative deviation of a gap from the median still called uniform
  // In-plane offset (mm) between slices above which the stack is resampled (gantry tilt).
  double shear_tolerance_mm = 0.05;
  // Value (physical units) for padding pixels and for voxels outside the acquired data
  // after tilt correction. Unset: -1024 for CT, 0 otherwise.
  std::optional<int> fill_value;
  // Larger output grids are refused ("volume too large ...") instead of allocated.
  size_t max_voxels = size_t(1) << 31;
  // A volume whose int16 voxels would take more than this is averaged down in blocks
  // while it is decoded (the full resolution is never held), with a correction note
  // ("averaged 2x2x1 while decoding to fit 1024 MB"). 0: no limit.
  uint64_t max_volume_bytes = 0;
  // Slices of this series decoded while it arrived (stack_prefetch.hpp): the largest
  // stack takes them when it goes straight into the volume, and they are released
  // either way. Another series' slices are left alone. The headers it read are not
  // read again (scanSeries too, which leaves the slices where they are).
  StackPrefetch* prefetched = nullptr;
};

// One volume candidate of a series.
struct VolumeCandidate {
  VolumeDecision decision = VolumeDecision::Refused;
  std::string reason;  // why refused; empty when renderable
  std::string label;   // what distinguishes it inside the series ("echo 2", "repeat 1 of 4", ...); may be empty

  // Output geometry (after corrections). Zero dimensions when unknown.
  std::array<int, 3> dimensions{0, 0, 0};
  std::array<double, 3> spacing{0, 0, 0};
  std::array<double, 3> origin{0, 0, 0};
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};
  double tilt_deg = 0;   // angle between the stack direction and the slice normal
  bool uniform = true;   // source slices were evenly spaced (before any resampling)
  std::vector<std::string> corrections;  // e.g. "gantry tilt 18.5 deg resampled"

  size_t source_frames = 0;              // frames (slices) that went into this candidate
  std::vector<std::filesystem::path> files;  // files contributing, sorted along the stack

  // The voxels, when options.load_voxels and decision == Renderable (and decoding worked).
  std::optional<Volume> volume;
};

// Series-level attributes (from the first image of the series), also the input of routing rules.
struct SeriesInfo {
  std::string series_instance_uid;
  std::string study_instance_uid;
  std::string modality;
  std::string series_description;
  std::string protocol_name;
  std::string study_description;
  std::string body_part_examined;
  std::string sop_class_uid;
  std::string mr_acquisition_type;  // "2D" / "3D" / ""
  std::string contrast_bolus_agent;  // (0018,0010) as written; "" when absent
  std::string convolution_kernel;    // (0018,1210), multiple values joined by '\\'
  std::string slice_thickness;       // (0018,0050) as written (never used for geometry)
  std::vector<std::string> image_type;
  std::string frame_of_reference_uid;
  std::string patient_id;
  std::string patient_name;
};

struct SeriesAssembly {
  SeriesInfo info;
  size_t instances = 0;        // DICOM files that belong to the series
  size_t skipped_files = 0;    // files given that were not DICOM / not readable
  VolumeDecision decision = VolumeDecision::Refused;  // renderable when any volume is
  std::string reason;          // whole-series summary ("2 volumes, 1 renderable", "localizer", ...)
  std::vector<VolumeCandidate> volumes;

  // The renderable candidates (pointers into volumes).
  std::vector<const VolumeCandidate*> renderable() const;
};

// Headers only: geometry and decisions, no pixel decoding.
SeriesAssembly scanSeries(const std::vector<std::filesystem::path>& files,
                          const AssemblyOptions& options = {});

// Geometry and decisions, and the voxels of the renderable candidates when
// options.load_voxels. A candidate whose pixels cannot be decoded is turned into a
// refused one ("pixel data could not be decoded: ..."). Throws volnode::Error(Errc::Io)
// only when a file that was scanned can no longer be opened.
SeriesAssembly assembleSeries(const std::vector<std::filesystem::path>& files,
                              const AssemblyOptions& options = {});

// Convenience: assemble the single largest renderable volume of a series; throws
// volnode::Error(Errc::NotAVolume) with the series' reason when there is none.
Volume assembleVolume(const std::vector<std::filesystem::path>& files, const AssemblyOptions& options = {});

}  // namespace volnode
