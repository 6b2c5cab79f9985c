#include "volnode/storage/dicomweb_queries.hpp"

#include <map>
#include <mutex>

#include "database/connection.hpp"
#include "result_headers.hpp"
#include "volnode/core/error.hpp"

namespace volnode {
namespace {

// The node's own results: the written outputs of render jobs, in the study of their
// source series (jobs.study_uid). They have no rows of their own in the series and
// instances tables; their series attributes come from job_outputs and the source series.
const char* kResultsJoin =
    " JOIN jobs j ON j.study_uid = st.study_uid AND j.kind = 'render'"
    " JOIN job_outputs o ON o.job_id = j.id AND o.file_path != ''"
    " LEFT JOIN series src ON src.series_uid = j.series_uid";
// As the encoder writes it: the source's modality (OT without one); a mesh is M3D.
const char* kResultModality =
    "(CASE WHEN o.sop_class_uid = '1.2.840.10008.5.1.4.1.1.104.3' THEN 'M3D' "
    "WHEN coalesce(src.modality, '') = '' THEN 'OT' ELSE src.modality END)";
// The source's body part; a mesh has none (Encapsulated STL has no such attribute).
const char* kResultBodyPart =
    "(CASE WHEN o.sop_class_uid = '1.2.840.10008.5.1.4.1.1.104.3' THEN '' ELSE coalesce(src.body_part, '') END)";
// The planner numbers a series' instances in the order it planned them (1, 2, ...).
const char* kResultInstanceNumber =
    "(SELECT count(*) FROM job_outputs q WHERE q.job_id = o.job_id AND q.series_uid = o.series_uid AND q.id <= o.id)";
const char* kResultInstanceNumberText =
    "CAST((SELECT count(*) FROM job_outputs q WHERE q.job_id = o.job_id AND q.series_uid = o.series_uid AND "
    "q.id <= o.id) AS TEXT)";

enum class MatchKind { Exact, UidList, Wildcard, DateRange, ModalityInStudy };

struct KeyInfo {
  const char* keyword;
  const char* tag;
  const char* column;         // in the received instances' tables
  const char* result_column;  // in the results' (job_outputs o, source series src), "" when the same
  MatchKind kind;
  QidoLevel level;  // the lowest level whose query may match on it
};

const std::map<QidoKey, KeyInfo>& keys() {
  static const std::map<QidoKey, KeyInfo> table{
      {QidoKey::StudyInstanceUID, {"StudyInstanceUID", "0020000D", "st.study_uid", "", MatchKind::UidList, QidoLevel::Study}},
      {QidoKey::PatientID, {"PatientID", "00100020", "p.patient_id", "", MatchKind::Wildcard, QidoLevel::Study}},
      {QidoKey::PatientName, {"PatientName", "00100010", "p.patient_name", "", MatchKind::Wildcard, QidoLevel::Study}},
      {QidoKey::AccessionNumber, {"AccessionNumber", "00080050", "st.accession_number", "", MatchKind::Wildcard, QidoLevel::Study}},
      {QidoKey::StudyID, {"StudyID", "00200010", "st.study_id", "", MatchKind::Wildcard, QidoLevel::Study}},
      {QidoKey::StudyDate, {"StudyDate", "00080020", "st.study_date", "", MatchKind::DateRange, QidoLevel::Study}},
      {QidoKey::StudyDescription, {"StudyDescription", "00081030", "st.study_description", "", MatchKind::Wildcard, QidoLevel::Study}},
      {QidoKey::ReferringPhysicianName, {"ReferringPhysicianName", "00080090", "st.referring_physician", "", MatchKind::Wildcard, QidoLevel::Study}},
      {QidoKey::ModalitiesInStudy, {"ModalitiesInStudy", "00080061", "", "", MatchKind::ModalityInStudy, QidoLevel::Study}},
      {QidoKey::SeriesInstanceUID, {"SeriesInstanceUID", "0020000E", "se.series_uid", "o.series_uid", MatchKind::UidList, QidoLevel::Series}},
      {QidoKey::Modality, {"Modality", "00080060", "se.modality", kResultModality, MatchKind::Exact, QidoLevel::Series}},
      {QidoKey::SeriesNumber, {"SeriesNumber", "00200011", "se.series_number", "CAST(o.series_number AS TEXT)", MatchKind::Exact, QidoLevel::Series}},
      {QidoKey::SeriesDescription, {"SeriesDescription", "0008103E", "se.series_description", "o.description", MatchKind::Wildcard, QidoLevel::Series}},
      {QidoKey::SOPInstanceUID, {"SOPInstanceUID", "00080018", "i.sop_uid", "o.sop_uid", MatchKind::UidList, QidoLevel::Instance}},
      {QidoKey::SOPClassUID, {"SOPClassUID", "00080016", "i.sop_class_uid", "o.sop_class_uid", MatchKind::UidList, QidoLevel::Instance}},
      {QidoKey::InstanceNumber, {"InstanceNumber", "00200013", "CAST(i.instance_number AS TEXT)", kResultInstanceNumberText, MatchKind::Exact, QidoLevel::Instance}},
  };
  return table;
}

std::vector<std::string> splitList(const std::string& value) {
  std::vector<std::string> out;
  std::string current;
  for (char c : value) {
    if (c == '\\' || c == ',') {
      if (!current.empty()) out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(current);
  return out;
}

bool isDate(const std::string& s) {
  return s.size() == 8 && s.find_first_not_of("0123456789") == std::string::npos;
}

std::string resultsOfStudy(const std::string& what) {
  return "(SELECT " + what + " FROM jobs j JOIN job_outputs o ON o.job_id = j.id AND o.file_path != ''"
         " LEFT JOIN series src ON src.series_uid = j.series_uid WHERE j.study_uid = st.study_uid AND j.kind = 'render')";
}

std::string studySelect(const sql::Dialect& d, bool with_results) {
  const std::string modalities =
      with_results ? std::string("FROM (SELECT x.modality AS modality FROM series x WHERE x.study_pk = st.id "
                                 "UNION ALL SELECT ") +
                         kResultModality +
                         " FROM jobs j JOIN job_outputs o ON o.job_id = j.id AND o.file_path != '' LEFT JOIN series "
                         "src ON src.series_uid = j.series_uid WHERE j.study_uid = st.study_uid AND j.kind = 'render') m "
                         "WHERE m.modality != ''"
                   : std::string("FROM series m WHERE m.study_pk = st.id AND m.modality != ''");
  return "SELECT p.patient_id, p.patient_name, p.birth_date, p.sex, st.study_uid, st.study_date, st.study_time, "
         "st.accession_number, st.study_id, st.study_description, st.referring_physician, " +
         d.sortedDistinctList("m.modality", modalities, "','") +
         ", (SELECT count(*) FROM series c WHERE c.study_pk = st.id)" +
         (with_results ? " + " + resultsOfStudy("count(DISTINCT o.series_uid)") : std::string()) +
         ", (SELECT coalesce(sum(c.instance_count), 0) FROM series c WHERE c.study_pk = st.id)" +
         (with_results ? " + " + resultsOfStudy("count(*)") : std::string());
}

// The columns after the study's, per level and per source of rows; each level's
// select ends with from_results and the columns the union is ordered by.
std::string receivedColumns(QidoLevel level, const sql::Dialect& d) {
  std::string out;
  if (level != QidoLevel::Study)
    out += ", se.series_uid, se.modality, se.series_description, se.series_number, se.body_part, se.instance_count";
  if (level == QidoLevel::Instance)
    out += ", i.sop_uid, i.sop_class_uid, i.transfer_syntax_uid, i.specific_character_set, i.instance_number, i.rows, "
           "i.columns, i.number_of_frames, i.bits_allocated, i.pixel_spacing, i.image_position, i.image_orientation, "
           "i.slice_thickness, i.image_type, se.frame_of_reference, i.file_path, i.file_size";
  out += ", 0 AS from_results, st.id AS sort_study";
  if (level == QidoLevel::Series) out += ", " + d.leadingInteger("se.series_number") + " AS sort_number, se.id AS sort_series";
  if (level == QidoLevel::Instance) out += ", se.id AS sort_series, i.instance_number AS sort_number, i.id AS sort_instance";
  return out;
}

std::string resultColumns(QidoLevel level) {
  std::string out;
  const std::string series_count =
      "(SELECT count(*) FROM job_outputs q WHERE q.job_id = o.job_id AND q.series_uid = o.series_uid AND "
      "q.file_path != '')";
  if (level == QidoLevel::Series)
    out += std::string(", o.series_uid, MIN(") + kResultModality +
           "), MIN(o.description), CAST(MIN(o.series_number) AS TEXT), MIN(" + kResultBodyPart + "), count(*)";
  if (level == QidoLevel::Instance)
    out += std::string(", o.series_uid, ") + kResultModality +
           ", o.description, CAST(o.series_number AS TEXT), " + kResultBodyPart + ", " + series_count +
           ", o.sop_uid, o.sop_class_uid, '', '', " + kResultInstanceNumber +
           ", NULL, NULL, CASE WHEN o.frames > 0 THEN o.frames END, NULL, '', '', '', '', '', '', o.file_path, "
           "o.file_size";
  out += ", 1, st.id";
  if (level == QidoLevel::Series) out += ", MIN(o.series_number), MIN(o.id)";
  if (level == QidoLevel::Instance)
    out += ", (SELECT MIN(q.id) FROM job_outputs q WHERE q.job_id = o.job_id AND q.series_uid = o.series_uid), " +
           std::string(kResultInstanceNumber) + ", o.id";
  return out;
}

}  // namespace

std::optional<QidoKey> qidoKeyNamed(const std::string& name) {
  for (const auto& [key, info] : keys()) {
    std::string tag = info.tag;
    bool tag_match = name.size() == 8;
    for (size_t i = 0; tag_match && i < 8; ++i) tag_match = std::toupper(static_cast<unsigned char>(name[i])) == tag[i];
    if (name == info.keyword || tag_match) return key;
  }
  return std::nullopt;
}

std::string qidoKeyNames() {
  std::string out;
  for (const auto& [key, info] : keys()) out += (out.empty() ? "" : ", ") + std::string(info.keyword);
  return out;
}

struct DicomWebQueries::Impl {
  std::mutex mutex;
  std::unique_ptr<sql::Connection> connection;
  std::filesystem::path results_root;
  ResultHeaders headers;
  Impl(const IndexLocation& location, std::filesystem::path results)
      : connection(sql::open(location, sql::ReadOnly{})), results_root(std::move(results)) {}
};

DicomWebQueries::DicomWebQueries(IndexLocation location, std::filesystem::path results_root)
    : impl_(std::make_unique<Impl>(location, std::move(results_root))) {}
DicomWebQueries::~DicomWebQueries() = default;

std::vector<QidoRow> DicomWebQueries::search(const QidoQuery& q) {
  const sql::Dialect& dialect = impl_->connection->dialect();
  const bool with_results = !impl_->results_root.empty();
  std::vector<std::string> values;
  auto bound = [&](const std::string& v) {
    values.push_back(v);
    return "?" + std::to_string(values.size());
  };
  // The conditions of one source of rows; `results`: the node's own results.
  auto conditions = [&](bool results) {
    std::string where = " WHERE 1=1";
    if (!q.study_uid.empty()) where += " AND st.study_uid = " + bound(q.study_uid);
    if (!q.series_uid.empty() && q.level != QidoLevel::Study)
      where += std::string(" AND ") + (results ? "o.series_uid" : "se.series_uid") + " = " + bound(q.series_uid);
    for (const auto& match : q.matches) {
      const KeyInfo& info = keys().at(match.key);
      if (static_cast<int>(info.level) > static_cast<int>(q.level) || match.value.empty()) continue;
      const std::string column = results && *info.result_column ? info.result_column : info.column;
      switch (info.kind) {
        case MatchKind::UidList: {
          std::string list;
          for (const auto& uid : splitList(match.value)) list += (list.empty() ? "" : ", ") + bound(uid);
          if (!list.empty()) where += " AND " + column + " IN (" + list + ")";
          break;
        }
        case MatchKind::Exact:
          where += " AND " + column + " = " + bound(match.value);
          break;
        case MatchKind::Wildcard:
          if (match.value.find_first_of("*?") == std::string::npos)
            where += " AND " + column + " = " + bound(match.value);
          else  // names are matched without regard to case, as most archives do
            where += " AND " + dialect.wildcardMatch(column, bound(dialect.wildcardPattern(match.value)));
          break;
        case MatchKind::DateRange: {
          auto dash = match.value.find('-');
          std::string from_date = dash == std::string::npos ? match.value : match.value.substr(0, dash);
          std::string to_date = dash == std::string::npos ? match.value : match.value.substr(dash + 1);
          if ((!from_date.empty() && !isDate(from_date)) || (!to_date.empty() && !isDate(to_date)) ||
              (from_date.empty() && to_date.empty()))
            throw Error(Errc::InvalidArgument, std::string(info.keyword) + "=" + match.value +
                                                   ": expected YYYYMMDD, YYYYMMDD-YYYYMMDD, -YYYYMMDD or YYYYMMDD-");
          where += " AND " + column + " != ''";  // no date is in no range
          if (!from_date.empty()) where += " AND " + column + " >= " + bound(from_date);
          if (!to_date.empty()) where += " AND " + column + " <= " + bound(to_date);
          break;
        }
        case MatchKind::ModalityInStudy: {
          std::string list, result_list;
          for (const auto& m : splitList(match.value)) list += (list.empty() ? "" : ", ") + bound(m);
          where += " AND (EXISTS (SELECT 1 FROM series x WHERE x.study_pk = st.id AND x.modality IN (" + list + "))";
          if (with_results) {
            for (const auto& m : splitList(match.value)) result_list += (result_list.empty() ? "" : ", ") + bound(m);
            where += " OR EXISTS (SELECT 1 FROM jobs j JOIN job_outputs o ON o.job_id = j.id AND o.file_path != '' "
                     "LEFT JOIN series src ON src.series_uid = j.series_uid WHERE j.study_uid = st.study_uid AND "
                     "j.kind = 'render' AND " + std::string(kResultModality) + " IN (" + result_list + "))";
          }
          where += ")";
          break;
        }
      }
    }
    return where;
  };

  const std::string study_from = " FROM studies st JOIN patients p ON p.id = st.patient_pk";
  std::string sql = studySelect(dialect, with_results) + receivedColumns(q.level, dialect) + study_from;
  if (q.level != QidoLevel::Study) sql += " JOIN series se ON se.study_pk = st.id";
  if (q.level == QidoLevel::Instance) sql += " JOIN instances i ON i.series_pk = se.id AND i.conflict = 0";
  sql += conditions(false);
  if (with_results && q.level != QidoLevel::Study) {
    sql += " UNION ALL " + studySelect(dialect, true) + resultColumns(q.level) + study_from + kResultsJoin +
           conditions(true);
    if (q.level == QidoLevel::Series) sql += " GROUP BY st.id, p.id, o.job_id, o.series_uid";
  }
  sql += q.level == QidoLevel::Study    ? " ORDER BY sort_study"
         : q.level == QidoLevel::Series ? " ORDER BY sort_study, sort_number, from_results, sort_series"
                                        : " ORDER BY sort_study, from_results, sort_series, sort_number, sort_instance";
  // Two statements: the operands of + are not sequenced, and the placeholders' numbers must be.
  const std::string limit = bound(std::to_string(q.limit));
  const std::string offset = bound(std::to_string(q.offset));
  sql += " LIMIT " + limit + " OFFSET " + offset;

  std::lock_guard lock(impl_->mutex);
  auto s = impl_->connection->prepare(sql);
  for (size_t i = 0; i + 2 < values.size(); ++i) s.bind(static_cast<int>(i + 1), values[i]);
  s.bind(static_cast<int>(values.size() - 1), static_cast<int64_t>(q.limit));
  s.bind(static_cast<int>(values.size()), static_cast<int64_t>(q.offset));
  std::vector<QidoRow> rows;
  while (s.step()) {
    QidoRow r;
    int c = 0;
    r.patient_id = s.text(c++);
    r.patient_name = s.text(c++);
    r.patient_birth_date = s.text(c++);
    r.patient_sex = s.text(c++);
    r.study_uid = s.text(c++);
    r.study_date = s.text(c++);
    r.study_time = s.text(c++);
    r.accession_number = s.text(c++);
    r.study_id = s.text(c++);
    r.study_description = s.text(c++);
    r.referring_physician = s.text(c++);
    r.modalities_in_study = splitList(s.text(c++));
    r.study_series = s.integer(c++);
    r.study_instances = s.integer(c++);
    if (q.level != QidoLevel::Study) {
      r.series_uid = s.text(c++);
      r.modality = s.text(c++);
      r.series_description = s.text(c++);
      r.series_number = s.text(c++);
      r.body_part = s.text(c++);
      r.series_instances = s.integer(c++);
    }
    if (q.level == QidoLevel::Instance) {
      r.sop_uid = s.text(c++);
      r.sop_class_uid = s.text(c++);
      r.transfer_syntax_uid = s.text(c++);
      r.specific_character_set = s.text(c++);
      r.instance_number = s.optionalInteger(c++);
      r.rows = s.optionalInteger(c++);
      r.columns = s.optionalInteger(c++);
      r.number_of_frames = s.optionalInteger(c++);
      r.bits_allocated = s.optionalInteger(c++);
      r.pixel_spacing = s.text(c++);
      r.image_position = s.text(c++);
      r.image_orientation = s.text(c++);
      r.slice_thickness = s.text(c++);
      r.image_type = s.text(c++);
      r.frame_of_reference = s.text(c++);
      r.file_path = s.text(c++);
      r.file_size = static_cast<uint64_t>(s.integer(c++));
    }
    r.from_results = s.integer(c++) != 0;
    if (r.from_results && q.level == QidoLevel::Instance)
      impl_->headers.complete(r, impl_->results_root / r.file_path);
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace volnode
