// bench_dicomweb: the same files sent to the same Orthanc by C-STORE (StoreScu, one
// association) and by STOW-RS (StowClient, Orthanc's DICOMweb plugin), in one run.
//
// One Orthanc 1.10.1 (Debian package, loopback) with the DICOMweb plugin. Each round
// sends the files once by each transport, in alternating order (so neither always
// finds a warm page cache or a freshly emptied Orthanc), and deletes the study from
// Orthanc after each send; every send is checked to have stored every file.
//
//   bench_dicomweb [--files DIR] [--repeat N]
// --files: the DICOM files to send (default ../shared/data/ct-head-phantom-study/S2020,
//          140 CT images of 512x512); files that are no DICOM instance are skipped.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/orthanc_process.hpp"
#include "support/process.hpp"
#include "volnode/dicomweb/stow_client.hpp"
#include "volnode/scp/dicom_network.hpp"
#include "volnode/scp/store_scu.hpp"

using namespace volnode;
using namespace volnode::test;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// A composite instance (a DICOMDIR-like index file has no SOP Instance UID in its data set).
bool isInstance(const std::filesystem::path& file) {
  DcmFileFormat dicom;
  OFString uid;
  return dicom.loadFile(file.c_str()).good() &&
         dicom.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid).good() && !uid.empty();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : (v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2);
}

// Empties Orthanc between sends, and says how many instances it held.
size_t clearOrthanc(const OrthancProcess& orthanc) {
  auto instances = json::parse(orthanc.get("/instances").body, nullptr, false);
  size_t held = instances.is_array() ? instances.size() : 0;
  auto studies = json::parse(orthanc.get("/studies").body, nullptr, false);
  if (studies.is_array())
    for (const auto& s : studies) {
      httplib::Client client("127.0.0.1", orthanc.httpPort());
      client.Delete(("/studies/" + s.get<std::string>()).c_str());
    }
  return held;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path dir = sharedData() / "ct-head-phantom-study" / "S2020";
  int repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i];
    if (arg == "--files") dir = argv[i + 1];
    else if (arg == "--repeat") repeat = std::max(1, std::atoi(argv[i + 1]));
    else {
      std::cerr << "usage: bench_dicomweb [--files DIR] [--repeat N]\n";
      return 2;
    }
  }
  std::vector<std::filesystem::path> files;
  uint64_t bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file() && isInstance(e.path())) {
      files.push_back(e.path());
      bytes += e.file_size();
    }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::cerr << "no DICOM files in " << dir << "\n";
    return 2;
  }
  initDicomNetworking();
  TempDir tmp("volnode-bench-dicomweb");
  OrthancProcess orthanc(tmp / "orthanc", {}, "", OrthancFeatures{true, "", ""});

  Destination dimse;
  dimse.name = "orthanc";
  dimse.aet = orthanc.aet();
  dimse.host = "127.0.0.1";
  dimse.port = static_cast<uint16_t>(orthanc.dicomPort());
  Destination web;
  web.name = "orthanc-web";
  web.type = DestinationType::DicomWeb;
  web.url = orthanc.dicomWebUrl();
  StoreScu scu(ScuSettings{});
  dicomweb::StowClient stow(web);

  std::vector<double> cstore_s, stow_s;
  auto timeCstore = [&] {
    auto start = Clock::now();
    auto report = scu.send(dimse, files);
    double s = std::chrono::duration<double>(Clock::now() - start).count();
    if (report.count(SendOutcome::Delivered) != files.size()) throw std::runtime_error("C-STORE did not deliver every file");
    cstore_s.push_back(s);
  };
  auto timeStow = [&] {
    auto start = Clock::now();
    auto report = stow.store(files);
    double s = std::chrono::duration<double>(Clock::now() - start).count();
    for (const auto& f : report.files)
      if (f.outcome != dicomweb::StowOutcome::Stored) throw std::runtime_error("STOW-RS did not store " + f.path + ": " + f.text);
    stow_s.push_back(s);
  };
  for (int round = 0; round < repeat; ++round) {
    for (int k = 0; k < 2; ++k) {
      bool stow_first = round % 2 == 0;
      ((k == 0) == stow_first) ? timeStow() : timeCstore();
      size_t held = clearOrthanc(orthanc);
      if (held != files.size()) throw std::runtime_error("Orthanc held " + std::to_string(held) + " instances");
    }
  }
  double mb = static_cast<double>(bytes) / 1e6;
  std::cout << std::fixed << std::setprecision(2);
  std::cout << files.size() << " files, " << mb << " MB from " << dir.string() << ", " << repeat << " rounds\n";
  std::cout << "| transport | each round (s) | median (s) | MB/s |\n|---|---|---|---|\n";
  auto row = [&](const char* name, const std::vector<double>& v) {
    std::cout << "| " << name << " | ";
    for (size_t i = 0; i < v.size(); ++i) std::cout << (i ? ", " : "") << v[i];
    std::cout << " | " << median(v) << " | " << mb / median(v) << " |\n";
  };
  row("C-STORE (one association)", cstore_s);
  row("STOW-RS (100 instances per request)", stow_s);
  std::cout << "STOW-RS / C-STORE: " << median(stow_s) / median(cstore_s) << " (goal: at most 1.2)\n";
  return 0;
}
