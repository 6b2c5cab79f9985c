// QIDO-RS matching over the index, on both backends: the wildcard, list and range
// kinds and the orders that the two dialects spell differently.
#include <gtest/gtest.h>

#include "backends.hpp"
#include "support/process.hpp"
#include "volnode/storage/dicomweb_queries.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

using namespace volnode;
using volnode::test::Backend;
using volnode::test::TempDir;

namespace {

NewInstance queriedInstance(const std::string& study, const std::string& series, const std::string& sop,
                     const std::string& patient_name, const std::string& modality, const std::string& number) {
  NewInstance n;
  n.attributes.patient_id = "P-" + patient_name;
  n.attributes.patient_name = patient_name;
  n.attributes.study_uid = study;
  n.attributes.study_date = "20240102";
  n.attributes.series_uid = series;
  n.attributes.series_number = number;
  n.attributes.modality = modality;
  n.attributes.sop_uid = sop;
  n.attributes.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
  n.file_path = "ab/" + sop + ".dcm";
  n.file_size = 10;
  return n;
}

struct QidoFixture {
  explicit QidoFixture(Backend backend) : location(test::freshIndex(backend, dir.path())), index(location) {
    index.addInstance(queriedInstance("1.1", "1.1.10", "1.1.10.1", "Doe^Jane", "CT", "10"));
    index.addInstance(queriedInstance("1.1", "1.1.9", "1.1.9.1", "Doe^Jane", "SR", "9"));
    index.addInstance(queriedInstance("1.2", "1.2.1", "1.2.1.1", "Roe_100%^Rich", "MR", "1"));
  }
  TempDir dir;
  IndexLocation location;
  Index index;
};

class DicomWebQueriesTest : public ::testing::TestWithParam<Backend> {};

std::vector<std::string> studiesMatching(QidoFixture& f, QidoKey key, const std::string& value) {
  DicomWebQueries queries(f.location);
  QidoQuery q;
  q.matches.push_back({key, value});
  std::vector<std::string> out;
  for (const auto& row : queries.search(q)) out.push_back(row.study_uid);
  return out;
}

}  // namespace

TEST_P(DicomWebQueriesTest, WildcardsMatchWithoutRegardToCaseAndOnlyAsWildcards) {
  QidoFixture f(GetParam());
  EXPECT_EQ(studiesMatching(f, QidoKey::PatientName, "doe*"), std::vector<std::string>{"1.1"});
  EXPECT_EQ(studiesMatching(f, QidoKey::PatientName, "D?E^JANE"), std::vector<std::string>{"1.1"});
  EXPECT_EQ(studiesMatching(f, QidoKey::PatientName, "Roe_100%*"), std::vector<std::string>{"1.2"});
  EXPECT_TRUE(studiesMatching(f, QidoKey::PatientName, "R_e*").empty()) << "_ is a character, not a wildcard";
  EXPECT_TRUE(studiesMatching(f, QidoKey::PatientName, "%").empty()) << "% is a character, not a wildcard";
  EXPECT_EQ(studiesMatching(f, QidoKey::StudyDate, "20240101-20240131").size(), 2u);
  EXPECT_EQ(studiesMatching(f, QidoKey::ModalitiesInStudy, "MR"), std::vector<std::string>{"1.2"});
}

TEST_P(DicomWebQueriesTest, StudiesListModalitiesAndSeriesComeInNumericOrder) {
  QidoFixture f(GetParam());
  DicomWebQueries queries(f.location);
  QidoQuery study;
  study.study_uid = "1.1";
  auto rows = queries.search(study);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].modalities_in_study, (std::vector<std::string>{"CT", "SR"}));
  EXPECT_EQ(rows[0].study_series, 2);
  QidoQuery series;
  series.level = QidoLevel::Series;
  series.study_uid = "1.1";
  rows = queries.search(series);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].series_number, "9");
  EXPECT_EQ(rows[1].series_number, "10");
  QidoQuery limited = series;
  limited.limit = 1;
  limited.offset = 1;
  rows = queries.search(limited);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].series_number, "10");
}

namespace {

JobOutput output(int64_t job, const std::string& key, const std::string& series, const std::string& sop,
                 int series_number, const std::string& description) {
  JobOutput o;
  o.job_id = job;
  o.output_key = key;
  o.kind = key.substr(0, key.find(':'));
  o.series_uid = series;
  o.sop_uid = sop;
  o.series_number = series_number;
  o.description = description;
  return o;
}

// Study 1.1 rendered from its CT series: a spin, two single-frame key views in one
// series, a mesh, and one more key view planned but not written (not a result yet).
void addResults(QidoFixture& f) {
  JobQueue jobs(f.location);
  const int64_t job = jobs.enqueue({JobKind::Render, "1.1", "1.1.10", "ct"});
  jobs.planOutputs(job, {output(job, "vr_spin:ct-bone", "9.1", "9.1.1", 9001, "3D VR Bone spin"),
                         output(job, "key_views:ct-bone:anterior", "9.2", "9.2.1", 9002, "3D VR Bone key views"),
                         output(job, "key_views:ct-bone:left", "9.2", "9.2.2", 9002, "3D VR Bone key views"),
                         output(job, "key_views:ct-bone:right", "9.2", "9.2.3", 9002, "3D VR Bone key views"),
                         output(job, "mesh:ct-bone", "9.3", "9.3.1", 9003, "3D model Bone")});
  jobs.recordOutputFile(job, "vr_spin:ct-bone", "1.2.840.10008.5.1.4.1.1.7.4", "1/dicom/spin.dcm", 100, 36);
  jobs.recordOutputFile(job, "key_views:ct-bone:anterior", "1.2.840.10008.5.1.4.1.1.7.4", "1/dicom/a.dcm", 10, 1);
  jobs.recordOutputFile(job, "key_views:ct-bone:left", "1.2.840.10008.5.1.4.1.1.7.4", "1/dicom/l.dcm", 10, 1);
  jobs.recordOutputFile(job, "mesh:ct-bone", "1.2.840.10008.5.1.4.1.1.104.3", "1/dicom/mesh.dcm", 50, 0);
}

std::vector<std::string> column(const std::vector<QidoRow>& rows, std::string QidoRow::*field) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.*field);
  return out;
}

}  // namespace

// The node's written results are in their source's study: counted there, listed after
// the received series in series-number order, matched with the same keys.
TEST_P(DicomWebQueriesTest, TheNodesWrittenResultsJoinTheirSourcesStudy) {
  QidoFixture f(GetParam());
  addResults(f);
  DicomWebQueries queries(f.location, f.dir.path() / "results");
  QidoQuery study;
  study.study_uid = "1.1";
  auto rows = queries.search(study);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].study_series, 2 + 3);
  EXPECT_EQ(rows[0].study_instances, 2 + 4);
  EXPECT_EQ(rows[0].modalities_in_study, (std::vector<std::string>{"CT", "M3D", "SR"}));
  EXPECT_EQ(studiesMatching(f, QidoKey::ModalitiesInStudy, "M3D"), std::vector<std::string>{}) << "without a results root";
  QidoQuery m3d;
  m3d.matches.push_back({QidoKey::ModalitiesInStudy, "M3D"});
  EXPECT_EQ(column(queries.search(m3d), &QidoRow::study_uid), std::vector<std::string>{"1.1"});

  QidoQuery series;
  series.level = QidoLevel::Series;
  series.study_uid = "1.1";
  rows = queries.search(series);
  EXPECT_EQ(column(rows, &QidoRow::series_uid), (std::vector<std::string>{"1.1.9", "1.1.10", "9.1", "9.2", "9.3"}));
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[2].modality, "CT");  // the source's
  EXPECT_EQ(rows[2].series_number, "9001");
  EXPECT_EQ(rows[2].series_description, "3D VR Bone spin");
  EXPECT_EQ(rows[3].series_instances, 2);  // the third key view is not written
  EXPECT_EQ(rows[4].modality, "M3D");
  EXPECT_FALSE(rows[1].from_results);
  EXPECT_TRUE(rows[2].from_results);
  series.matches = {{QidoKey::Modality, "M3D"}};
  EXPECT_EQ(column(queries.search(series), &QidoRow::series_uid), std::vector<std::string>{"9.3"});
  series.matches = {{QidoKey::SeriesNumber, "9002"}};
  EXPECT_EQ(column(queries.search(series), &QidoRow::series_uid), std::vector<std::string>{"9.2"});
  series.matches = {{QidoKey::SeriesDescription, "3d vr*"}};
  EXPECT_EQ(column(queries.search(series), &QidoRow::series_uid), (std::vector<std::string>{"9.1", "9.2"}));
  series.matches.clear();
  series.limit = 2;
  series.offset = 2;
  EXPECT_EQ(column(queries.search(series), &QidoRow::series_uid), (std::vector<std::string>{"9.1", "9.2"}));

  QidoQuery instances;
  instances.level = QidoLevel::Instance;
  instances.study_uid = "1.1";
  rows = queries.search(instances);
  EXPECT_EQ(column(rows, &QidoRow::sop_uid),
            (std::vector<std::string>{"1.1.10.1", "1.1.9.1", "9.1.1", "9.2.1", "9.2.2", "9.3.1"}));
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[2].file_path, "1/dicom/spin.dcm");
  EXPECT_EQ(rows[2].number_of_frames, 36);
  EXPECT_EQ(rows[2].sop_class_uid, "1.2.840.10008.5.1.4.1.1.7.4");
  EXPECT_EQ(rows[4].instance_number, 2);
  EXPECT_FALSE(rows[5].number_of_frames.has_value()) << "a mesh has no frames";
  instances.series_uid = "9.2";
  instances.matches = {{QidoKey::InstanceNumber, "2"}};
  EXPECT_EQ(column(queries.search(instances), &QidoRow::sop_uid), std::vector<std::string>{"9.2.2"});
  instances.series_uid.clear();
  instances.matches = {{QidoKey::SOPInstanceUID, "9.3.1,1.1.9.1"}};
  EXPECT_EQ(column(queries.search(instances), &QidoRow::sop_uid), (std::vector<std::string>{"1.1.9.1", "9.3.1"}));
  instances.matches = {{QidoKey::SOPClassUID, "1.2.840.10008.5.1.4.1.1.104.3"}};
  EXPECT_EQ(column(queries.search(instances), &QidoRow::sop_uid), std::vector<std::string>{"9.3.1"});
}

VOLNODE_ON_BOTH_BACKENDS(DicomWebQueriesTest);
