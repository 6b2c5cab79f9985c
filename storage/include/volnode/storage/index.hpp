#pragma once
// The index of everything the node holds: patients, studies, series, instances
// and the associations that delivered them, in SQLite or PostgreSQL
// (index_location.hpp). Thread-safe: one writer connection (writes are
// serialized, as SQLite does anyway) and one reader connection, so the console
// never waits for ingest.
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "volnode/storage/file_store.hpp"
#include "volnode/storage/index_location.hpp"
#include "volnode/storage/records.hpp"

namespace volnode {

class Index : public SlotLedger {
 public:
  // Opens or creates the index and applies the embedded schema migrations.
  // Throws Error(Errc::SchemaTooNew) when it was written by a newer volnode,
  // Error(Errc::Database) when it is locked, not a database or cannot be reached.
  explicit Index(const IndexLocation& location, IndexSync sync = IndexSync::Full);
  ~Index() override;
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  static int latestSchemaVersion();
  int schemaVersion();
  const std::filesystem::path& path() const;  // the SQLite file (empty on PostgreSQL)
  const IndexLocation& location() const;

  // The node's name ("<host>:<dicom.port>", as its job leases carry it): the slots it
  // records and the associations it begins carry it, so that on a shared database a
  // starting node settles only its own slots (slots()) and closes only its own open
  // associations (closeStaleAssociations()). Rows without a name (written before
  // migration 008, or with no name set) count as every node's own; on SQLite (one serve
  // node per store) every row does.
  void ownRowsAs(const std::string& node);

  // --- ingest ---
  std::vector<HeldCopy> heldCopies(const std::string& sop_uid);
  // Adds an instance (creating patient/study/series as needed) in one transaction
  // and returns its row id; its file stops being a free slot in the same step.
  // A series that had left `receiving` goes back to it.
  int64_t addInstance(const NewInstance& instance);

  // Every instance's file path (relative to the store root), for the start-up
  // comparison of index and store.
  std::vector<std::string> instancePaths();
  // Whether an instance row names this file (relative to the store root).
  bool holdsFile(const std::string& relative_path);
  // A round trip to the database: false, with the reason, while it cannot be reached.
  bool reachable(std::string* why = nullptr);

  // SlotLedger: the store's pre-created files that hold no acknowledged instance.
  void addSlots(const std::vector<std::string>& relative_paths) override;
  void removeSlot(const std::string& relative_path) override;
  std::vector<std::string> slots() override;  // this node's own (ownRowsAs)
  // Slots another node recorded on a shared database: files a live peer holds ready or
  // is writing, which this node must neither delete nor index.
  std::vector<std::string> otherNodesSlots();

  int64_t beginAssociation(const std::string& calling_aet, const std::string& called_aet,
                           const std::string& peer_host);
  void endAssociation(int64_t id, int64_t instances, int64_t bytes, int64_t failures, const std::string& outcome);
  // Marks this node's associations left open by its previous process as interrupted.
  int closeStaleAssociations();
  // The studies an association still open on another node has delivered instances to,
  // counting only nodes whose cluster_members heartbeat is fresh (a dead node holds up
  // nothing). One query; empty on SQLite (one serve node per index).
  std::set<std::string> studiesOpenOnOtherNodes();

  // Removes a study (its instances, series, transitions; the patient when it has
  // no other study) in one transaction. Returns the removed instances' file paths,
  // for the caller to delete. Render jobs and their outputs are kept.
  std::vector<std::string> removeStudy(const std::string& study_uid);
  int64_t storedBytes();

  // --- series state (states.hpp; states a job brings are changed by JobQueue) ---
  // False when the transition is not allowed from the series' current state;
  // Error(Errc::NotFound) for an unknown series.
  bool setSeriesState(const std::string& series_uid, SeriesState state, const std::string& reason);
  std::vector<SeriesTransition> seriesTransitions(const std::string& series_uid);
  std::vector<SeriesSummary> seriesInState(SeriesState state);

  // --- reads ---
  std::vector<StudySummary> listStudies(const StudyQuery& query);
  std::optional<StudySummary> study(const std::string& study_uid);
  std::vector<SeriesSummary> seriesOfStudy(const std::string& study_uid);
  std::optional<SeriesSummary> series(const std::string& series_uid);
  std::vector<InstanceFile> seriesFiles(const std::string& series_uid);
  // The files of the series' instances under `store_root`, in the order received,
  // without the copies that conflict with an instance already held: what is assembled.
  std::vector<std::filesystem::path> seriesFilePaths(const std::string& series_uid,
                                                     const std::filesystem::path& store_root);
  std::vector<SliceGeometry> seriesGeometry(const std::string& series_uid);
  std::optional<InstanceAttributes> firstInstanceAttributes(const std::string& series_uid);
  std::vector<AssociationRecord> recentAssociations(int limit);
  IndexCounts counts();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode
