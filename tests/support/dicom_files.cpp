#include "support/dicom_files.hpp"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>

#include <dcmtk/oflog/oflog.h>

namespace volnode::test {
namespace {
// Reading only up to the pixel data makes DCMTK warn on every file; tests want errors only.
const bool kQuietDcmtk = [] {
  OFLog::configure(OFLogger::ERROR_LOG_LEVEL);
  return true;
}();
}  // namespace

std::string datasetBytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  std::string bytes = content.str();
  if (bytes.size() < 132 || std::memcmp(bytes.data() + 128, "DICM", 4) != 0) return bytes;
  DcmFileFormat format;
  if (format.loadFileUntilTag(file.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect,
                              DCM_PixelData)
          .bad())
    return bytes;
  // Group length of the meta header tells where the dataset starts.
  Uint32 group_length = 0;
  format.getMetaInfo()->findAndGetUint32(DCM_FileMetaInformationGroupLength, group_length);
  size_t offset = 132 + 12 + group_length;
  return offset <= bytes.size() ? bytes.substr(offset) : std::string();
}

void insertAtDatasetStart(const std::filesystem::path& file, const std::string& raw, const std::filesystem::path& out) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  std::string bytes = content.str();
  const std::string dataset = datasetBytes(file);
  if (dataset.size() == bytes.size()) throw std::runtime_error(file.string() + " has no File Meta Information");
  const size_t offset = bytes.size() - dataset.size();
  std::ofstream(out, std::ios::binary | std::ios::trunc) << bytes.substr(0, offset) << raw << dataset;
}

std::string implicitGroup2ElementWithHugeExplicitLength() {
  std::string e("\x02\x00\x01\x00" "OB\x00\x00", 8);  // tag, then the length 0x0000424F ("OB\0\0")
  std::string value(0x424F, '\0');
  value.replace(0, 4, "\xF4\xFF\xFF\xFF", 4);
  return e + value;
}

std::string sopInstanceUid(const std::filesystem::path& file) {
  DcmFileFormat format;
  if (format.loadFileUntilTag(file.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect,
                              DCM_PixelData)
          .bad())
    return {};
  OFString uid;
  format.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid);
  return uid.c_str();
}

std::vector<std::filesystem::path> filesUnder(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::exists(dir)) return files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) files.push_back(entry.path());
  return files;
}

std::map<std::string, std::filesystem::path> instancesUnder(const std::filesystem::path& dir) {
  std::map<std::string, std::filesystem::path> instances;
  for (const auto& file : filesUnder(dir)) {
    std::string uid = sopInstanceUid(file);
    if (!uid.empty()) instances[uid] = file;
  }
  return instances;
}

}  // namespace volnode::test
