#pragma once
// Helpers for the reliability suite: what storescu acknowledged, what the node's
// index and store hold, raw DICOM peers (hostile or slow), Orthanc look-ups and
// the node's memory. Everything talks to processes on loopback only.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/node_api.hpp"
#include "support/node_process.hpp"
#include "support/storescu_output.hpp"
#include "support/orthanc_process.hpp"
#include "support/orthanc_studies.hpp"
#include "support/process.hpp"

namespace volnode::test::reliability {

using namespace std::chrono_literals;

// ---- the node's storage, seen from outside -------------------------------------------------

std::filesystem::path storageDir(const NodeProcess& node);  // <dir>/var (storage.dir)
std::filesystem::path storeDir(const NodeProcess& node);    // <dir>/var/store

struct IndexedInstance {
  std::string sop_uid;
  std::string file_path;  // relative to the store
};

// Rows of the index of the node whose storage.dir is `storage_dir`, on the suite's
// backend (support/suite_index.hpp: the sqlite3 tool, read-only, or PostgreSQL).
// Throws when the query fails.
std::vector<IndexedInstance> indexedInstances(const std::filesystem::path& storage_dir);
std::vector<std::string> fileSlots(const std::filesystem::path& storage_dir);

// True when the whole file parses with DCMTK (not only up to the pixel data).
bool parsesCompletely(const std::filesystem::path& file, std::string* why = nullptr);

// ---- DCMTK tools ---------------------------------------------------------------------------

// acknowledgedFiles and responsesWith: support/storescu_output.hpp

// echoscu against the node; returns the elapsed time, or nullopt when it failed.
std::optional<std::chrono::milliseconds> echo(const NodeProcess& node, std::chrono::seconds timeout = 10s);

// ---- kill -9 while storescu streams ---------------------------------------------------------

// One cycle of "the node dies while storescu streams a new series": a synthetic
// series of `slices` is written to `source` and streamed, and the node is killed
// after a random number of acknowledged instances plus up to 15 ms, so the kill
// lands before, during and after receive, fsync and commit.
struct KilledStream {
  std::string series_uid;                      // SeriesInstanceUID of the streamed series
  std::map<std::string, std::string> uid_of;  // source file -> SOP Instance UID
  std::set<std::string> acknowledged;          // SOP Instance UIDs storescu saw Success for
  bool mid_stream = false;                     // storescu was still sending at the kill
  std::string error;                           // non-empty: the cycle could not be checked
};
KilledStream killWhileStreaming(NodeProcess& node, const std::filesystem::path& source, int slices,
                                const std::string& description, std::mt19937& random);

// The node's answers as JSON and its jobs: support/node_api.hpp, support/orthanc_studies.hpp.

// ---- Orthanc -------------------------------------------------------------------------------

// Orthanc's id of a study by StudyInstanceUID, "" when Orthanc does not have it.
std::string orthancStudyId(const OrthancProcess& orthanc, const std::string& study_uid);
// SOP Instance UIDs (one per stored instance; a duplicate would show twice) of a study.
std::vector<std::string> orthancSopUids(const OrthancProcess& orthanc, const std::string& study_uid);

// ---- process memory ------------------------------------------------------------------------

// VmRSS of a process in kB (0 when it is gone).
long residentKb(pid_t pid);
// The node's pid, from <storage.dir>/volnode.lock (written by the node).
pid_t nodePid(const NodeProcess& node);

// ---- raw DICOM upper layer -----------------------------------------------------------------

// A TCP connection to 127.0.0.1:port from the loopback address `from` (any of
// 127.0.0.0/8, so a test can play several hosts); -1 when it cannot connect.
int connectLoopback(int port, const std::string& from = "127.0.0.1");
// True when the peer closed (or reset) the connection; waits up to `timeout` for it.
bool closedByPeer(int fd, std::chrono::milliseconds timeout);

// A-ASSOCIATE-RQ proposing one presentation context (id 1).
std::string associateRequestPdu(const std::string& called_aet, const std::string& calling_aet,
                                const std::string& abstract_syntax, const std::string& transfer_syntax);

// A hand-made association, for datasets no DICOM toolkit would send and for
// peers that negotiate and then sit idle.
class RawAssociation {
 public:
  RawAssociation() = default;
  ~RawAssociation();
  RawAssociation(const RawAssociation&) = delete;
  RawAssociation& operator=(const RawAssociation&) = delete;

  // Connects and negotiates; true when the presentation context was accepted.
  bool open(int port, const std::string& abstract_syntax, const std::string& transfer_syntax,
            const std::string& called_aet = "VOLNODE", const std::string& calling_aet = "RAWPEER",
            std::chrono::milliseconds timeout = 5000ms, const std::string& from = "127.0.0.1");
  // C-STORE with the given dataset bytes (already in the negotiated transfer syntax).
  // Returns the DIMSE status, or -1 when the node dropped the association / no answer came.
  int store(const std::string& sop_class, const std::string& sop_instance, const std::string& dataset,
            std::chrono::milliseconds timeout = 30000ms);
  void release();
  // The pieces of a C-STORE, for a peer that sends them its own way (e.g. slowly).
  // Control header: 0x03 command + last fragment, 0x02 data + last, 0x00 data.
  std::string storeCommandPdu(const std::string& sop_class, const std::string& sop_instance);
  static std::string pDataPdu(const std::string& data, uint8_t control);
  int fd() const { return fd_; }
  const std::string& lastError() const { return error_; }

 private:
  bool sendAll(const std::string& bytes);
  bool readPdu(std::string& pdu, std::chrono::milliseconds timeout);
  int fd_ = -1;
  int message_id_ = 1;
  std::string error_;
};

}  // namespace volnode::test::reliability
