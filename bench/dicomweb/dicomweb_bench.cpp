// bench_dicomweb: the same files sent to the same Orthanc by C-STORE (StoreScu, one
// association) and by STOW-RS (StowClient, Orthanc's DICOMweb plugin), in one run.
//
// One Orthanc 1.10.1 (Debian package, loopback) with the DICOMweb plugin. Each round
// sends the files once by each transport, in alternating order (so neither always
// finds a warm page cache or a freshly emptied Orthanc), and deletes the study from
// Orthanc after each send; every send is checked to have stored every file.
//
// Then WADO-RS frame retrieval: the same files held by a `volnode serve` (received by
// storescu, no rendering) and by Orthanc; frame 1 of every instance is fetched from
// each, one request at a time over one connection, and the bytes compared.
//
// Then on-demand retrieval of the study from the same Orthanc: per round, a fresh node
// without rendering rules retrieves it for POST /api/studies/{uid}/render by C-MOVE
// (Orthanc as its pacs) and another by QIDO-RS + WADO-RS (Orthanc's DICOMweb plugin as a
// dicomweb source), alternating which goes first; timed from the request until the
// retrieve job succeeded (polled every 20 ms), each node then holding every instance.
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
#include <thread>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/node_process.hpp"
#include "support/orthanc_process.hpp"
#include "support/orthanc_studies.hpp"
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

// The SOP Instance UIDs of a study by QIDO-RS, with their series.
std::vector<std::pair<std::string, std::string>> instancesByQido(httplib::Client& client, const std::string& base,
                                                                 const std::string& study) {
  std::vector<std::pair<std::string, std::string>> out;
  auto r = client.Get((base + "/studies/" + study + "/instances?limit=10000").c_str(),
                      httplib::Headers{{"Accept", "application/dicom+json"}});
  auto body = json::parse(r ? r->body : "[]", nullptr, false);
  if (!body.is_array()) return out;
  for (const auto& i : body)
    out.emplace_back(i["0020000E"]["Value"][0].get<std::string>(), i["00080018"]["Value"][0].get<std::string>());
  return out;
}

// Seconds to fetch frame 1 of every instance; `first_frame` gets the first answer's body.
double timeFrames(httplib::Client& client, const std::string& base, const std::string& study,
                  const std::vector<std::pair<std::string, std::string>>& instances, std::string* first_frame) {
  httplib::Headers accept{{"Accept", "multipart/related; type=\"application/octet-stream\"; transfer-syntax=*"}};
  auto start = Clock::now();
  for (const auto& [series, sop] : instances) {
    auto r = client.Get((base + "/studies/" + study + "/series/" + series + "/instances/" + sop + "/frames/1").c_str(), accept);
    if (!r || r->status != 200) throw std::runtime_error("frame of " + sop + " from " + base + ": " + (r ? std::to_string(r->status) + " " + r->body.substr(0, 200) : "no answer"));
    if (first_frame && first_frame->empty()) *first_frame = r->body.substr(r->body.find("\r\n\r\n") + 4, 64);
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Seconds from POST /api/studies/{uid}/render until the node's retrieve job succeeded.
double timeRetrieval(const NodeProcess& node, const std::string& study, const std::string& body, const std::string& token) {
  auto start = Clock::now();
  auto accepted = node.post("/api/studies/" + study + "/render", body, token);
  if (accepted.status != 202) throw std::runtime_error("render request: " + std::to_string(accepted.status) + " " + accepted.body);
  while (Clock::now() - start < std::chrono::seconds(300)) {
    for (const auto& j : nodeJobs(node, "retrieve")) {
      const std::string state = j.value("state", "");
      if (state == "succeeded") return std::chrono::duration<double>(Clock::now() - start).count();
      if (state == "failed" || state == "canceled") throw std::runtime_error("retrieve job " + state + ": " + j.dump());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("the retrieval did not finish within 300 s");
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

  // WADO-RS frames: the same instances in volnode (received by C-STORE) and in Orthanc.
  NodeProcess node(tmp / "node", {noRendering(tmp / "node-presets")});
  std::vector<std::string> storescu = {"storescu", "-aec", "VOLNODE", "127.0.0.1", std::to_string(node.dicomPort())};
  for (const auto& f : files) storescu.push_back(f.string());
  auto stored = run(storescu, std::chrono::seconds(300));
  if (stored.exit_code != 0) throw std::runtime_error("storescu to volnode failed: " + stored.output.substr(0, 2000));
  timeStow();  // Orthanc holds them too
  DcmFileFormat first;
  OFString study;
  first.loadFile(files[0].c_str());
  first.getDataset()->findAndGetOFString(DCM_StudyInstanceUID, study);
  httplib::Client node_client("127.0.0.1", node.consolePort()), orthanc_client("127.0.0.1", orthanc.httpPort());
  node_client.set_read_timeout(60);
  orthanc_client.set_read_timeout(60);
  auto node_instances = instancesByQido(node_client, "/dicom-web", study.c_str());
  auto orthanc_instances = instancesByQido(orthanc_client, "/dicom-web", study.c_str());
  if (node_instances.size() != files.size() || orthanc_instances.size() != files.size())
    throw std::runtime_error("QIDO-RS found " + std::to_string(node_instances.size()) + " (volnode) and " +
                             std::to_string(orthanc_instances.size()) + " (Orthanc) instances");
  std::vector<double> node_s, orthanc_s;
  for (int round = 0; round < repeat; ++round) {
    std::string node_frame, orthanc_frame;
    node_s.push_back(timeFrames(node_client, "/dicom-web", study.c_str(), node_instances, &node_frame));
    orthanc_s.push_back(timeFrames(orthanc_client, "/dicom-web", study.c_str(), node_instances, &orthanc_frame));
    if (node_frame != orthanc_frame) throw std::runtime_error("the first frame differs between volnode and Orthanc");
  }
  std::cout << "\nWADO-RS frame 1 of each of the " << files.size() << " instances, sequential, one connection:\n";
  std::cout << "| server | each round (s) | median (s) | frames/s |\n|---|---|---|---|\n";
  auto frame_row = [&](const char* name, const std::vector<double>& v) {
    std::cout << "| " << name << " | ";
    for (size_t i = 0; i < v.size(); ++i) std::cout << (i ? ", " : "") << v[i];
    std::cout << " | " << median(v) << " | " << static_cast<double>(files.size()) / median(v) << " |\n";
  };
  frame_row("volnode /dicom-web", node_s);
  frame_row("Orthanc DICOMweb plugin", orthanc_s);
  std::cout << "volnode / Orthanc: " << median(node_s) / median(orthanc_s) << " (goal: at most 1.0)\n";

  // On-demand retrieval of the study from Orthanc: C-MOVE vs QIDO-RS + WADO-RS.
  const std::string token = "bench-dicomweb-console-token";
  httplib::Client orthanc_admin("127.0.0.1", orthanc.httpPort());
  std::vector<double> move_s, wado_s;
  for (int round = 0; round < repeat; ++round) {
    const int move_port = freePort();
    const std::string name = "volnode";  // one entry, moved to this round's node (one AE title, one port)
    auto added = orthanc_admin.Put(("/modalities/" + name).c_str(),
                                   json{{"AET", "VOLNODE"}, {"Host", "127.0.0.1"}, {"Port", move_port}}.dump(), "application/json");
    if (!added || added->status != 200) throw std::runtime_error("Orthanc did not take the modality " + name);
    auto retrieve = [&](bool by_move) {
      const auto folder = tmp / ((by_move ? "move-" : "wado-") + std::to_string(round));
      std::vector<std::string> settings{noRendering(folder / "presets"), "console.token=" + token};
      if (by_move) {
        settings.insert(settings.end(), {"dicom.port=" + std::to_string(move_port), "destinations.pacs.aet=" + orthanc.aet(),
                                         "destinations.pacs.host=127.0.0.1",
                                         "destinations.pacs.port=" + std::to_string(orthanc.dicomPort())});
      } else {
        settings.insert(settings.end(), {"sources.archive.type=\"dicomweb\"", "sources.archive.url=\"" + orthanc.dicomWebUrl() + "\""});
      }
      NodeProcess retriever(folder, settings);
      const double seconds = timeRetrieval(retriever, study.c_str(), by_move ? "" : json{{"source", "archive"}}.dump(), token);
      auto held = json::parse(retriever.get("/api/studies/" + std::string(study.c_str())).body, nullptr, false);
      if (!held.is_object() || held.value("instances", 0) != static_cast<int>(files.size()))
        throw std::runtime_error(std::string(by_move ? "C-MOVE" : "WADO-RS") + " retrieval left " +
                                 (held.is_object() ? std::to_string(held.value("instances", 0)) : "no") + " instances");
      (by_move ? move_s : wado_s).push_back(seconds);
    };
    const bool move_first = round % 2 == 0;
    retrieve(move_first);
    retrieve(!move_first);
  }
  std::cout << "\nOn-demand retrieval of the study (" << files.size() << " instances) from Orthanc, request to retrieve job done:\n";
  std::cout << "| transport | each round (s) | median (s) | instances/s |\n|---|---|---|---|\n";
  frame_row("C-MOVE (Orthanc as pacs)", move_s);
  frame_row("QIDO-RS + WADO-RS (Orthanc's DICOMweb plugin as a source)", wado_s);
  std::cout << "WADO-RS / C-MOVE: " << median(wado_s) / median(move_s) << "\n";
  return 0;
}
