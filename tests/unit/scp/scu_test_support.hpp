#pragma once
// Real peers for the SCU tests: DCMTK's storescp as a C-STORE receiver on a
// loopback port of its own, stopped by pid; and small helpers over DICOM files.
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "volnode/core/config.hpp"
#include "volnode/scp/store_scp.hpp"
#include "volnode/scp/store_scu.hpp"

namespace volnode::test {

inline constexpr const char* kCtImageStorage = "1.2.840.10008.5.1.4.1.1.2";
inline constexpr const char* kSecondaryCaptureStorage = "1.2.840.10008.5.1.4.1.1.7";
inline constexpr const char* kJpegLsLossless = "1.2.840.10008.1.2.4.80";
inline constexpr const char* kRleLossless = "1.2.840.10008.1.2.5";
inline constexpr const char* kImplicitLittleEndian = "1.2.840.10008.1.2";
inline constexpr const char* kExplicitLittleEndian = "1.2.840.10008.1.2.1";

// Short timeouts: every peer is on loopback.
inline ScuSettings testSettings(const std::string& aet = "VOLNODE") {
  ScuSettings settings;
  settings.calling_aet = aet;
  settings.connect_timeout_s = 5;
  settings.acse_timeout_s = 10;
  settings.dimse_timeout_s = 30;
  return settings;
}

// The DICOM files of a folder (sorted; non-DICOM files such as DIRFILE left out).
inline std::vector<std::filesystem::path> dicomFilesIn(const std::filesystem::path& folder) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    if (entry.is_regular_file() && entry.path().filename() != "DIRFILE" && entry.path().filename() != "LICENSE")
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

struct FileMeta {
  std::string sop_class;
  std::string sop_instance;
  std::string transfer_syntax;
};

inline FileMeta metaOf(const std::filesystem::path& file) {
  DcmFileFormat dicom;
  FileMeta meta;
  if (dicom.loadFile(file.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_metaOnly).bad()) return meta;
  OFString value;
  if (dicom.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPClassUID, value).good()) meta.sop_class = value.c_str();
  if (dicom.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPInstanceUID, value).good())
    meta.sop_instance = value.c_str();
  if (dicom.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, value).good())
    meta.transfer_syntax = value.c_str();
  return meta;
}

// SOP Instance UID -> meta of every DICOM file directly under folder.
inline std::map<std::string, FileMeta> receivedIn(const std::filesystem::path& folder) {
  std::map<std::string, FileMeta> received;
  if (!std::filesystem::exists(folder)) return received;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    FileMeta meta = metaOf(entry.path());
    if (!meta.sop_instance.empty()) received[meta.sop_instance] = meta;
  }
  return received;
}

inline std::string readText(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// DCMTK's storescp on a free loopback port, writing what it receives to dir/received.
class StorescpProcess {
 public:
  StorescpProcess(const std::filesystem::path& dir, std::string aet, std::vector<std::string> options = {})
      : dir_(dir), aet_(std::move(aet)), port_(freePort()) {
    std::filesystem::create_directories(received());
    std::vector<std::string> argv{"storescp", "-d", "-aet", aet_, "-od", received().string()};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back(std::to_string(port_));
    process_ = std::make_unique<ChildProcess>(argv, log());
    if (!waitForPort(port_, std::chrono::milliseconds(10000)))
      throw std::runtime_error("storescp did not listen on port " + std::to_string(port_) + ": " + readText(log()));
  }
  ~StorescpProcess() { process_->terminate(std::chrono::seconds(10)); }

  std::filesystem::path received() const { return dir_ / "received"; }
  std::filesystem::path log() const { return dir_ / "storescp.log"; }
  int port() const { return port_; }
  Destination destination() const { return {"storescp", DestinationType::Dimse, aet_, "127.0.0.1", static_cast<uint16_t>(port_), {}}; }

 private:
  std::filesystem::path dir_;
  std::string aet_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

// An association configuration for storescp that accepts CT Image Storage (any
// common transfer syntax) and Verification, and nothing else.
inline std::filesystem::path writeCtOnlyProfile(const std::filesystem::path& dir) {
  auto file = dir / "ct-only.cfg";
  std::ofstream out(file);
  out << "[[TransferSyntaxes]]\n"
         "[Uncompressed]\n"
         "TransferSyntax1 = LocalEndianExplicit\n"
         "TransferSyntax2 = LittleEndianImplicit\n"
         "[Any]\n"
         "TransferSyntax1 = JPEGLSLossless\n"
         "TransferSyntax2 = RLELossless\n"
         "TransferSyntax3 = LocalEndianExplicit\n"
         "TransferSyntax4 = LittleEndianImplicit\n"
         "[[PresentationContexts]]\n"
         "[CTOnly]\n"
         "PresentationContext1 = VerificationSOPClass\\Uncompressed\n"
         "PresentationContext2 = CTImageStorage\\Any\n"
         "[[Profiles]]\n"
         "[CTOnly]\n"
         "PresentationContexts = CTOnly\n";
  return file;
}

}  // namespace volnode::test
