#pragma once
// A prepared (assembled and preprocessed) volume on disk, so that opening a
// series in the interactive viewer after its batch render reads one file instead
// of assembling the series again. Format: the line "volnode-volume 1", one line
// of JSON with the geometry, then the voxels as little-endian int16.
#include <filesystem>

#include "volnode/volume/volume.hpp"

namespace volnode {

// Its name in a render job's results folder (<results>/<job id>/volume.vol).
inline constexpr char kPreparedVolumeFile[] = "volume.vol";
// The same volume with the bone removed, kept by a CT angiography's render job so
// the viewer's bone-removed presets need not remove the bone again.
inline constexpr char kBoneRemovedVolumeFile[] = "volume-bone-removed.vol";

// Writes atomically (a temporary file in the same folder, then rename), so a
// reader never sees half a file. Throws Error(Errc::Io).
void writeVolumeFile(const Volume& volume, const std::filesystem::path& file);

// Throws Error(Errc::Io) when the file cannot be read, Error(Errc::InvalidArgument)
// when it is not a volume file or is cut off.
Volume readVolumeFile(const std::filesystem::path& file);

}  // namespace volnode
