#include "volnode/volume/volume_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "volnode/core/error.hpp"

namespace volnode {
namespace {

constexpr char kMagic[] = "volnode-volume 1";
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "voxels are written in host order, little-endian");

}  // namespace

void writeVolumeFile(const Volume& volume, const std::filesystem::path& file) {
  if (volume.voxels.size() != volume.voxelCount())
    throw Error(Errc::InvalidArgument, "writeVolumeFile: voxel count does not match the dimensions");
  const nlohmann::json header{{"dimensions", volume.dimensions},
                              {"spacing", volume.spacing},
                              {"origin", volume.origin},
                              {"direction", volume.direction},
                              {"modality", volume.modality},
                              {"SeriesInstanceUID", volume.series_instance_uid},
                              {"FrameOfReferenceUID", volume.frame_of_reference_uid},
                              {"corrections", volume.corrections}};
  auto temporary = file;
  temporary += ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(Errc::Io, "cannot write " + temporary.string() + ": " + std::strerror(errno));
    out << kMagic << '\n' << header.dump() << '\n';
    out.write(reinterpret_cast<const char*>(volume.voxels.data()),
              static_cast<std::streamsize>(volume.voxels.size() * sizeof(int16_t)));
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw Error(Errc::Io, "writing " + temporary.string() + " failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, file, ec);
  if (ec) {
    std::filesystem::remove(temporary, ec);
    throw Error(Errc::Io, "cannot rename the volume file into " + file.string() + ": " + ec.message());
  }
}

Volume readVolumeFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(Errc::Io, "cannot read " + file.string() + ": " + std::strerror(errno));
  std::string magic, header_line;
  if (!std::getline(in, magic) || magic != kMagic || !std::getline(in, header_line))
    throw Error(Errc::InvalidArgument, file.string() + " is not a volnode volume file");
  auto header = nlohmann::json::parse(header_line, nullptr, false);
  Volume volume;
  try {
    volume.dimensions = header.at("dimensions").get<std::array<int, 3>>();
    volume.spacing = header.at("spacing").get<std::array<double, 3>>();
    volume.origin = header.at("origin").get<std::array<double, 3>>();
    volume.direction = header.at("direction").get<std::array<double, 9>>();
    volume.modality = header.value("modality", "");
    volume.series_instance_uid = header.value("SeriesInstanceUID", "");
    volume.frame_of_reference_uid = header.value("FrameOfReferenceUID", "");
    volume.corrections = header.value("corrections", std::vector<std::string>{});
  } catch (const nlohmann::json::exception&) {
    throw Error(Errc::InvalidArgument, file.string() + " has no readable volume header");
  }
  for (int c = 0; c < 3; ++c)
    if (volume.dimensions[c] < 1 || volume.dimensions[c] > 65536 || !(volume.spacing[c] > 0))
      throw Error(Errc::InvalidArgument, file.string() + " describes an empty or impossible grid");
  volume.voxels.resize(volume.voxelCount());
  in.read(reinterpret_cast<char*>(volume.voxels.data()),
          static_cast<std::streamsize>(volume.voxels.size() * sizeof(int16_t)));
  if (in.gcount() != static_cast<std::streamsize>(volume.voxels.size() * sizeof(int16_t)))
    throw Error(Errc::InvalidArgument, file.string() + " is cut off");
  return volume;
}

}  // namespace volnode
