#include "volnode/storage/index.hpp"

#include <mutex>
#include <optional>

#include "series_state_change.hpp"
#include "database/connection.hpp"
#include "database/migrations.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/storage/cluster_members.hpp"

namespace volnode {
namespace {

std::string today() { return isoUtcNow().substr(0, 10); }

const char* const kSeriesColumns =
    "se.series_uid, st.study_uid, se.modality, se.series_description, se.series_number, se.body_part, "
    "se.protocol_name, se.frame_of_reference, se.calling_aet, se.instance_count, se.first_received, "
    "se.last_received, se.last_received_unix, se.state, se.state_reason, se.state_time, "
    "(SELECT COUNT(*) FROM instances i WHERE i.series_pk = se.id AND i.conflict = 1)";

SeriesSummary readSeries(const sql::Statement& s) {
  SeriesSummary r;
  r.series_uid = s.text(0);
  r.study_uid = s.text(1);
  r.modality = s.text(2);
  r.series_description = s.text(3);
  r.series_number = s.text(4);
  r.body_part = s.text(5);
  r.protocol_name = s.text(6);
  r.frame_of_reference = s.text(7);
  r.calling_aet = s.text(8);
  r.instances = s.integer(9);
  r.first_received = s.text(10);
  r.last_received = s.text(11);
  r.last_received_unix = s.real(12);
  r.state = parseSeriesState(s.text(13)).value_or(SeriesState::Failed);  // CHECK admits known names only
  r.state_reason = s.text(14);
  r.state_time = s.text(15);
  r.conflicts = s.integer(16);
  return r;
}

std::string studyColumns(const sql::Dialect& d) {
  return "st.study_uid, st.study_date, st.study_time, st.accession_number, st.study_id, st.study_description, "
         "st.referring_physician, p.patient_id, p.issuer, p.patient_name, p.birth_date, p.sex, " +
         d.sortedDistinctList("modality", "FROM series WHERE study_pk = st.id", "'\\'") +
         ", (SELECT COUNT(*) FROM series WHERE study_pk = st.id), "
         "(SELECT COALESCE(SUM(instance_count), 0) FROM series WHERE study_pk = st.id), "
         "st.first_received, st.last_received";
}

StudySummary readStudy(const sql::Statement& s) {
  StudySummary r;
  r.study_uid = s.text(0);
  r.study_date = s.text(1);
  r.study_time = s.text(2);
  r.accession_number = s.text(3);
  r.study_id = s.text(4);
  r.study_description = s.text(5);
  r.referring_physician = s.text(6);
  r.patient_id = s.text(7);
  r.issuer_of_patient_id = s.text(8);
  r.patient_name = s.text(9);
  r.patient_birth_date = s.text(10);
  r.patient_sex = s.text(11);
  r.modalities = s.text(12);
  r.series_count = s.integer(13);
  r.instances = s.integer(14);
  r.first_received = s.text(15);
  r.last_received = s.text(16);
  return r;
}

}  // namespace

struct Index::Impl {
  IndexLocation location;
  std::string node;  // ownRowsAs; "" on SQLite, where every row is the node's own
  std::mutex write_mutex;
  std::unique_ptr<sql::Connection> writer;
  std::mutex read_mutex;
  std::unique_ptr<sql::Connection> reader;

  // Patient, study and series rows are created with INSERT ... ON CONFLICT DO NOTHING:
  // another node indexing the same new study at the same moment makes the insert do
  // nothing (on PostgreSQL it waits for that node's transaction first), and the
  // look-up after it finds that node's row. Neither fails, and no row is doubled.
  // The rows this node owns on a shared database: its own name, or none (written before
  // migration 008). Binds the name at `position` when it needs it.
  std::string ownRows(const char* column = "node") const {
    if (node.empty()) return "1 = 1";
    return std::string("(") + column + " = ? OR " + column + " IS NULL)";
  }
  void bindOwner(sql::Statement& s, int position) const {
    if (!node.empty()) s.bind(position, node);
  }

  std::optional<int64_t> findPatient(const InstanceAttributes& a) {
    auto find = writer->cached("SELECT id FROM patients WHERE patient_id = ? AND issuer = ?");
    find->bind(1, a.patient_id).bind(2, a.issuer_of_patient_id);
    if (find->step()) return find->integer(0);
    return std::nullopt;
  }

  int64_t upsertPatient(const InstanceAttributes& a) {
    if (auto id = findPatient(a)) return *id;
    {
      auto insert = writer->cached(
          "INSERT INTO patients(patient_id, issuer, patient_name, birth_date, sex) VALUES (?,?,?,?,?) "
          "ON CONFLICT (patient_id, issuer) DO NOTHING RETURNING id");
      insert->bind(1, a.patient_id).bind(2, a.issuer_of_patient_id).bind(3, a.patient_name)
          .bind(4, a.patient_birth_date).bind(5, a.patient_sex);
      if (insert->step()) return insert->integer(0);
    }
    if (auto id = findPatient(a)) return *id;  // created by another node meanwhile
    throw Error(Errc::Database, "patient " + a.patient_id + " was neither found nor created");
  }

  std::optional<int64_t> findStudy(const std::string& study_uid) {
    auto find = writer->cached("SELECT id FROM studies WHERE study_uid = ?");
    find->bind(1, study_uid);
    if (find->step()) return find->integer(0);
    return std::nullopt;
  }

  int64_t upsertStudy(const InstanceAttributes& a, const std::string& received) {
    std::optional<int64_t> id = findStudy(a.study_uid);
    if (!id) {
      int64_t patient = upsertPatient(a);
      {
        auto insert = writer->cached(
            "INSERT INTO studies(study_uid, patient_pk, study_date, study_time, accession_number, study_id, "
            "study_description, referring_physician, first_received, last_received) VALUES (?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (study_uid) DO NOTHING RETURNING id");
        insert->bind(1, a.study_uid).bind(2, patient).bind(3, a.study_date).bind(4, a.study_time)
            .bind(5, a.accession_number).bind(6, a.study_id).bind(7, a.study_description)
            .bind(8, a.referring_physician).bind(9, received).bind(10, received);
        if (insert->step()) return insert->integer(0);
      }
      id = findStudy(a.study_uid);  // created by another node meanwhile
      if (!id) throw Error(Errc::Database, "study " + a.study_uid + " was neither found nor created");
    }
    const auto& d = writer->dialect();
    writer->cached("UPDATE studies SET first_received = " + d.least("first_received", "?1") +
                   ", last_received = " + d.greatest("last_received", "?1") + " WHERE id = ?2")
        ->bind(1, received).bind(2, *id).run();
    return *id;
  }

  void recordTransition(int64_t series_pk, const std::string& state, const std::string& reason,
                        const std::string& now) {
    writer->cached("INSERT INTO series_transitions(series_pk, state, reason, at) VALUES (?,?,?,?)")
        ->bind(1, series_pk).bind(2, state).bind(3, reason).bind(4, now).run();
  }

  // `received`: when the instance arrived; `now`: when its state changes (they
  // differ for an instance found in the store at start-up).
  int64_t upsertSeries(const InstanceAttributes& a, int64_t study_pk, const std::string& calling_aet,
                       const std::string& received, double received_unix, const std::string& now) {
    auto find = [&](std::string& state) -> int64_t {
      auto s = writer->cached("SELECT id, state FROM series WHERE series_uid = ?" + writer->dialect().forUpdate());
      s->bind(1, a.series_uid);
      if (!s->step()) return 0;
      state = s->text(1);
      return s->integer(0);
    };
    std::string state;
    int64_t id = find(state);
    if (id == 0) {
      {
        auto insert = writer->cached(
            "INSERT INTO series(series_uid, study_pk, modality, series_description, series_number, body_part, "
            "protocol_name, frame_of_reference, calling_aet, instance_count, first_received, last_received, "
            "last_received_unix, state, state_reason, state_time) "
            "VALUES (?,?,?,?,?,?,?,?,?,1,?,?,?,'receiving','first instance received',?) "
            "ON CONFLICT (series_uid) DO NOTHING RETURNING id");
        insert->bind(1, a.series_uid).bind(2, study_pk).bind(3, a.modality).bind(4, a.series_description)
            .bind(5, a.series_number).bind(6, a.body_part).bind(7, a.protocol_name).bind(8, a.frame_of_reference)
            .bind(9, calling_aet).bind(10, received).bind(11, received).bind(12, received_unix).bind(13, now);
        if (insert->step()) id = insert->integer(0);
      }
      if (id != 0) {
        recordTransition(id, "receiving", "first instance received", now);
        return id;
      }
      id = find(state);  // created by another node meanwhile: counted below like any later instance
      if (id == 0) throw Error(Errc::Database, "series " + a.series_uid + " was neither found nor created");
    }
    // Times never move backwards and an unknown sender ("") keeps the known one:
    // an instance found in the store at start-up carries its file's time.
    const auto& d = writer->dialect();
    writer->cached("UPDATE series SET instance_count = instance_count + 1, first_received = " +
                   d.least("first_received", "?1") + ", last_received = " + d.greatest("last_received", "?1") +
                   ", last_received_unix = " + d.greatest("last_received_unix", "?2") +
                   ", calling_aet = COALESCE(NULLIF(?3, ''), calling_aet) WHERE id = ?4")
        ->bind(1, received).bind(2, received_unix).bind(3, calling_aet).bind(4, id).run();
    if (state != toString(SeriesState::Receiving))
      // A late instance: the series is received again and a later render supersedes the earlier one.
      sql::changeSeriesState(*writer, a.series_uid, SeriesState::Receiving, "late instance after " + state, now);
    return id;
  }
};

Index::Index(const IndexLocation& location, IndexSync sync) : impl_(std::make_unique<Impl>()) {
  impl_->location = location;
  const bool sqlite = location.backend == IndexBackend::Sqlite;
  if (sqlite && location.sqlite_path.has_parent_path())
    std::filesystem::create_directories(location.sqlite_path.parent_path());
  auto synchronous = sync == IndexSync::Full ? sql::Synchronous::Full : sql::Synchronous::Normal;
  try {
    impl_->writer = sql::open(location, true, synchronous);
    sql::migrate(*impl_->writer);
  } catch (const Error& e) {
    if (e.code() != Errc::Database || !sqlite) throw;
    throw Error(Errc::Database, std::string(e.what()) +
                                    "; restore the index from a backup, or rebuild it from the store with "
                                    "`volnode reindex` (the unreadable file is kept aside)");
  }
  impl_->reader = sql::open(location, false, synchronous);
}

Index::~Index() = default;

int Index::latestSchemaVersion() { return sql::latestSchemaVersion(); }

int Index::schemaVersion() {
  std::lock_guard lock(impl_->read_mutex);
  return sql::schemaVersion(*impl_->reader);
}

const std::filesystem::path& Index::path() const { return impl_->location.sqlite_path; }

const IndexLocation& Index::location() const { return impl_->location; }

std::vector<HeldCopy> Index::heldCopies(const std::string& sop_uid) {
  std::lock_guard lock(impl_->write_mutex);
  auto s = impl_->writer->cached("SELECT id, file_path FROM instances WHERE sop_uid = ?");
  s->bind(1, sop_uid);
  std::vector<HeldCopy> copies;
  while (s->step()) copies.push_back({s->integer(0), s->text(1)});
  return copies;
}

int64_t Index::addInstance(const NewInstance& in) {
  const auto& a = in.attributes;
  const SystemTime now_time = std::chrono::system_clock::now();
  const SystemTime received_time = in.received_at.value_or(now_time);
  const std::string now = isoUtc(now_time), received = isoUtc(received_time);
  const double received_unix = unixSeconds(received_time);
  std::lock_guard lock(impl_->write_mutex);
  auto& db = *impl_->writer;
  sql::Transaction tx(db);
  std::string calling_aet = in.association_id ? "" : in.calling_aet;
  if (in.association_id) {
    auto s = db.cached("SELECT calling_aet FROM associations WHERE id = ?");
    s->bind(1, *in.association_id);
    if (s->step()) calling_aet = s->text(0);
  }
  int64_t study_pk = impl_->upsertStudy(a, received);
  int64_t series_pk = impl_->upsertSeries(a, study_pk, calling_aet, received, received_unix, now);
  if (in.conflict) db.cached("UPDATE instances SET conflict = 1 WHERE sop_uid = ?")->bind(1, a.sop_uid).run();
  auto insert = db.cached(
      "INSERT INTO instances(sop_uid, series_pk, association_pk, sop_class_uid, transfer_syntax_uid, "
      "instance_number, rows, columns, number_of_frames, bits_allocated, pixel_spacing, image_position, "
      "image_orientation, slice_thickness, image_type, acquisition_number, images_in_acquisition, "
      "temporal_positions, specific_character_set, file_path, file_size, conflict, received_at) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id");
  insert->bind(1, a.sop_uid).bind(2, series_pk).bind(3, in.association_id).bind(4, a.sop_class_uid)
      .bind(5, a.transfer_syntax_uid).bind(6, a.instance_number).bind(7, a.rows).bind(8, a.columns)
      .bind(9, a.number_of_frames).bind(10, a.bits_allocated).bind(11, a.pixel_spacing).bind(12, a.image_position)
      .bind(13, a.image_orientation).bind(14, a.slice_thickness).bind(15, a.image_type)
      .bind(16, a.acquisition_number).bind(17, a.images_in_acquisition).bind(18, a.temporal_positions)
      .bind(19, a.specific_character_set).bind(20, in.file_path).bind(21, static_cast<int64_t>(in.file_size))
      .bind(22, in.conflict ? 1 : 0).bind(23, received);
  int64_t id = sql::insertReturningId(*insert);
  db.cached("DELETE FROM file_slots WHERE path = ?")->bind(1, in.file_path).run();
  tx.commit();
  return id;
}

void Index::addSlots(const std::vector<std::string>& relative_paths) {
  std::lock_guard lock(impl_->write_mutex);
  auto& db = *impl_->writer;
  sql::Transaction tx(db);
  auto insert = db.prepare("INSERT INTO file_slots(path, node) VALUES (?, NULLIF(?, '')) ON CONFLICT DO NOTHING");
  for (const auto& path : relative_paths) {
    insert.bind(1, path).bind(2, impl_->node).run();
    insert.reset();
  }
  tx.commit();
}

void Index::removeSlot(const std::string& relative_path) {
  std::lock_guard lock(impl_->write_mutex);
  impl_->writer->prepare("DELETE FROM file_slots WHERE path = ?").bind(1, relative_path).run();
}

std::vector<std::string> Index::instancePaths() {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare("SELECT file_path FROM instances");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

bool Index::holdsFile(const std::string& relative_path) {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare("SELECT 1 FROM instances WHERE file_path = ?");
  s.bind(1, relative_path);
  return s.step();
}

bool Index::reachable(std::string* why) {
  try {
    std::lock_guard lock(impl_->read_mutex);
    auto s = impl_->reader->prepare("SELECT 1");
    s.step();
    return true;
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return false;
  }
}

void Index::ownRowsAs(const std::string& node) {
  std::scoped_lock lock(impl_->write_mutex, impl_->read_mutex);
  // An SQLite index has one serve node: every row is its own, whatever its name.
  if (impl_->writer->dialect().postgresql()) impl_->node = node;
}

std::vector<std::string> Index::slots() {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare("SELECT path FROM file_slots WHERE " + impl_->ownRows() + " ORDER BY path");
  impl_->bindOwner(s, 1);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::vector<std::string> Index::otherNodesSlots() {
  std::lock_guard lock(impl_->read_mutex);
  if (impl_->node.empty()) return {};
  auto s = impl_->reader->prepare("SELECT path FROM file_slots WHERE node <> ? ORDER BY path");
  s.bind(1, impl_->node);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::vector<std::string> Index::removeStudy(const std::string& study_uid) {
  std::lock_guard lock(impl_->write_mutex);
  auto& db = *impl_->writer;
  sql::Transaction tx(db);
  auto find = db.prepare("SELECT id, patient_pk FROM studies WHERE study_uid = ?");
  find.bind(1, study_uid);
  if (!find.step()) return {};
  int64_t study = find.integer(0), patient = find.integer(1);
  find.reset();
  std::vector<std::string> files;
  auto paths = db.prepare(
      "SELECT i.file_path FROM instances i JOIN series se ON se.id = i.series_pk WHERE se.study_pk = ?");
  paths.bind(1, study);
  while (paths.step()) files.push_back(paths.text(0));
  paths.reset();
  db.prepare("DELETE FROM instances WHERE series_pk IN (SELECT id FROM series WHERE study_pk = ?)").bind(1, study).run();
  db.prepare("DELETE FROM series_transitions WHERE series_pk IN (SELECT id FROM series WHERE study_pk = ?)")
      .bind(1, study).run();
  db.prepare("DELETE FROM series WHERE study_pk = ?").bind(1, study).run();
  db.prepare("DELETE FROM studies WHERE id = ?").bind(1, study).run();
  db.prepare("DELETE FROM patients WHERE id = ? AND NOT EXISTS (SELECT 1 FROM studies WHERE patient_pk = ?)")
      .bind(1, patient).bind(2, patient).run();
  tx.commit();
  return files;
}

int64_t Index::storedBytes() {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare("SELECT COALESCE(SUM(file_size), 0) FROM instances");
  s.step();
  return s.integer(0);
}

int64_t Index::beginAssociation(const std::string& calling_aet, const std::string& called_aet,
                                const std::string& peer_host) {
  std::lock_guard lock(impl_->write_mutex);
  auto insert = impl_->writer->prepare(
      "INSERT INTO associations(calling_aet, called_aet, peer_host, started_at, node) VALUES (?,?,?,?,NULLIF(?, '')) "
      "RETURNING id");
  insert.bind(1, calling_aet).bind(2, called_aet).bind(3, peer_host).bind(4, isoUtcNow()).bind(5, impl_->node);
  return sql::insertReturningId(insert);
}

void Index::endAssociation(int64_t id, int64_t instances, int64_t bytes, int64_t failures,
                           const std::string& outcome) {
  std::lock_guard lock(impl_->write_mutex);
  impl_->writer
      ->prepare("UPDATE associations SET ended_at = ?, instances = ?, bytes = ?, failures = ?, outcome = ? WHERE id = ?")
      .bind(1, isoUtcNow()).bind(2, instances).bind(3, bytes).bind(4, failures).bind(5, outcome).bind(6, id).run();
}

int Index::closeStaleAssociations() {
  std::lock_guard lock(impl_->write_mutex);
  auto update = impl_->writer->prepare("UPDATE associations SET outcome = 'interrupted', ended_at = ? WHERE outcome = "
                                       "'open' AND " + impl_->ownRows());
  update.bind(1, isoUtcNow());
  impl_->bindOwner(update, 2);
  update.run();
  return impl_->writer->changes();
}

std::set<std::string> Index::studiesOpenOnOtherNodes() {
  std::lock_guard lock(impl_->read_mutex);
  auto& db = *impl_->reader;
  if (!db.dialect().postgresql()) return {};
  // Open associations of other nodes (a partial index holds only the open ones), the
  // series they delivered (instances_association), their studies; a node whose
  // heartbeat is older than ClusterMembers::kStaleIntervals of its intervals is dead
  // or cut off, and its associations hold up nothing.
  auto s = db.cached(
      "SELECT DISTINCT st.study_uid FROM associations a "
      "JOIN instances i ON i.association_pk = a.id "
      "JOIN series se ON se.id = i.series_pk "
      "JOIN studies st ON st.id = se.study_pk "
      "WHERE a.outcome = 'open' AND a.node IS NOT NULL AND a.node <> ? AND EXISTS ("
      "SELECT 1 FROM cluster_members m WHERE m.node = a.node AND m.heartbeat_at >= " +
      db.dialect().unixNow() + " - " + std::to_string(ClusterMembers::kStaleIntervals) + " * m.heartbeat_s)");
  s->bind(1, impl_->node);
  std::set<std::string> studies;
  while (s->step()) studies.insert(s->text(0));
  return studies;
}

bool Index::setSeriesState(const std::string& series_uid, SeriesState state, const std::string& reason) {
  std::string now = isoUtcNow();
  std::lock_guard lock(impl_->write_mutex);
  auto& db = *impl_->writer;
  sql::Transaction tx(db);
  auto result = sql::changeSeriesState(db, series_uid, state, reason, now);
  if (result == sql::SeriesChangeResult::Unknown) throw Error(Errc::NotFound, "no series " + series_uid);
  tx.commit();
  return result == sql::SeriesChangeResult::Changed;
}

std::vector<SeriesTransition> Index::seriesTransitions(const std::string& series_uid) {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare(
      "SELECT t.state, t.reason, t.at FROM series_transitions t JOIN series se ON se.id = t.series_pk "
      "WHERE se.series_uid = ? ORDER BY t.id");
  s.bind(1, series_uid);
  std::vector<SeriesTransition> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.text(2)});
  return out;
}

std::vector<SeriesSummary> Index::seriesInState(SeriesState state) {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare(std::string("SELECT ") + kSeriesColumns +
                                  " FROM series se JOIN studies st ON st.id = se.study_pk WHERE se.state = ?");
  s.bind(1, toString(state));
  std::vector<SeriesSummary> out;
  while (s.step()) out.push_back(readSeries(s));
  return out;
}

std::vector<StudySummary> Index::listStudies(const StudyQuery& q) {
  std::lock_guard lock(impl_->read_mutex);
  const auto& d = impl_->reader->dialect();
  const std::string like = " " + d.likeIgnoringCase() + " ?1";
  std::string where = " WHERE 1=1";
  if (!q.text.empty())
    where += " AND (p.patient_id" + like + " OR p.patient_name" + like + " OR st.accession_number" + like +
             " OR st.study_description" + like + ")";
  if (!q.modality.empty()) where += " AND EXISTS (SELECT 1 FROM series x WHERE x.study_pk = st.id AND x.modality = ?2)";
  if (!q.date_from.empty()) where += " AND st.study_date >= ?3";
  if (!q.date_to.empty()) where += " AND st.study_date <= ?4";
  auto s = impl_->reader->prepare("SELECT " + studyColumns(d) +
                                  " FROM studies st JOIN patients p ON p.id = st.patient_pk" + where +
                                  " ORDER BY st.last_received DESC LIMIT ?5 OFFSET ?6");
  if (!q.text.empty()) s.bind(1, "%" + q.text + "%");
  if (!q.modality.empty()) s.bind(2, q.modality);
  if (!q.date_from.empty()) s.bind(3, q.date_from);
  if (!q.date_to.empty()) s.bind(4, q.date_to);
  s.bind(5, q.limit).bind(6, q.offset);
  std::vector<StudySummary> out;
  while (s.step()) out.push_back(readStudy(s));
  return out;
}

std::optional<StudySummary> Index::study(const std::string& study_uid) {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare("SELECT " + studyColumns(impl_->reader->dialect()) +
                                  " FROM studies st JOIN patients p ON p.id = st.patient_pk WHERE st.study_uid = ?");
  s.bind(1, study_uid);
  if (!s.step()) return std::nullopt;
  return readStudy(s);
}

std::vector<SeriesSummary> Index::seriesOfStudy(const std::string& study_uid) {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare(std::string("SELECT ") + kSeriesColumns +
                                  " FROM series se JOIN studies st ON st.id = se.study_pk WHERE st.study_uid = ? "
                                  "ORDER BY " + impl_->reader->dialect().leadingInteger("se.series_number") + ", se.id");
  s.bind(1, study_uid);
  std::vector<SeriesSummary> out;
  while (s.step()) out.push_back(readSeries(s));
  return out;
}

std::optional<SeriesSummary> Index::series(const std::string& series_uid) {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare(std::string("SELECT ") + kSeriesColumns +
                                  " FROM series se JOIN studies st ON st.id = se.study_pk WHERE se.series_uid = ?");
  s.bind(1, series_uid);
  if (!s.step()) return std::nullopt;
  return readSeries(s);
}

std::vector<InstanceFile> Index::seriesFiles(const std::string& series_uid) {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare(
      "SELECT i.sop_uid, i.file_path, i.instance_number, i.conflict FROM instances i "
      "JOIN series se ON se.id = i.series_pk WHERE se.series_uid = ? ORDER BY i.id");
  s.bind(1, series_uid);
  std::vector<InstanceFile> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.optionalInteger(2), s.integer(3) != 0});
  return out;
}

std::vector<std::filesystem::path> Index::seriesFilePaths(const std::string& series_uid,
                                                          const std::filesystem::path& store_root) {
  std::vector<std::filesystem::path> paths;
  for (const auto& f : seriesFiles(series_uid))
    if (!f.conflict) paths.push_back(store_root / f.file_path);
  return paths;
}

std::vector<SliceGeometry> Index::seriesGeometry(const std::string& series_uid) {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare(
      "SELECT i.image_position, i.image_orientation, i.images_in_acquisition, i.number_of_frames FROM instances i "
      "JOIN series se ON se.id = i.series_pk WHERE se.series_uid = ?");
  s.bind(1, series_uid);
  std::vector<SliceGeometry> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.optionalInteger(2), s.optionalInteger(3)});
  return out;
}

std::optional<InstanceAttributes> Index::firstInstanceAttributes(const std::string& series_uid) {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare(
      "SELECT p.patient_id, p.issuer, p.patient_name, p.birth_date, p.sex, st.study_uid, st.study_date, "
      "st.study_time, st.accession_number, st.study_id, st.study_description, st.referring_physician, "
      "se.series_uid, se.modality, se.series_description, se.series_number, se.body_part, se.protocol_name, "
      "se.frame_of_reference, i.sop_uid, i.sop_class_uid, i.transfer_syntax_uid, i.instance_number, i.rows, "
      "i.columns, i.number_of_frames, i.bits_allocated, i.images_in_acquisition, i.temporal_positions, "
      "i.pixel_spacing, i.image_position, i.image_orientation, i.slice_thickness, i.image_type, "
      "i.acquisition_number, i.specific_character_set "
      "FROM instances i JOIN series se ON se.id = i.series_pk JOIN studies st ON st.id = se.study_pk "
      "JOIN patients p ON p.id = st.patient_pk WHERE se.series_uid = ? ORDER BY i.id LIMIT 1");
  s.bind(1, series_uid);
  if (!s.step()) return std::nullopt;
  InstanceAttributes a;
  int c = 0;
  for (std::string* field : {&a.patient_id, &a.issuer_of_patient_id, &a.patient_name, &a.patient_birth_date,
                             &a.patient_sex, &a.study_uid, &a.study_date, &a.study_time, &a.accession_number,
                             &a.study_id, &a.study_description, &a.referring_physician, &a.series_uid, &a.modality,
                             &a.series_description, &a.series_number, &a.body_part, &a.protocol_name,
                             &a.frame_of_reference, &a.sop_uid, &a.sop_class_uid, &a.transfer_syntax_uid})
    *field = s.text(c++);
  for (std::optional<int64_t>* field : {&a.instance_number, &a.rows, &a.columns, &a.number_of_frames,
                                        &a.bits_allocated, &a.images_in_acquisition, &a.temporal_positions})
    *field = s.optionalInteger(c++);
  for (std::string* field : {&a.pixel_spacing, &a.image_position, &a.image_orientation, &a.slice_thickness,
                             &a.image_type, &a.acquisition_number, &a.specific_character_set})
    *field = s.text(c++);
  return a;
}

std::vector<AssociationRecord> Index::recentAssociations(int limit) {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare(
      "SELECT id, calling_aet, called_aet, peer_host, started_at, COALESCE(ended_at, ''), outcome, instances, bytes, "
      "failures FROM associations ORDER BY id DESC LIMIT ?");
  s.bind(1, limit);
  std::vector<AssociationRecord> out;
  while (s.step())
    out.push_back({s.integer(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6), s.integer(7),
                   s.integer(8), s.integer(9)});
  return out;
}

IndexCounts Index::counts() {
  std::lock_guard lock(impl_->read_mutex);
  auto s = impl_->reader->prepare(
      "SELECT (SELECT COUNT(*) FROM patients), (SELECT COUNT(*) FROM studies), (SELECT COUNT(*) FROM series), "
      "(SELECT COUNT(*) FROM instances), (SELECT COALESCE(SUM(file_size), 0) FROM instances), "
      "(SELECT COUNT(*) FROM associations WHERE outcome = 'open'), "
      "(SELECT COUNT(*) FROM instances WHERE received_at >= ?)");
  s.bind(1, today());
  s.step();
  return {s.integer(0), s.integer(1), s.integer(2), s.integer(3), s.integer(4), s.integer(5), s.integer(6)};
}

}  // namespace volnode
