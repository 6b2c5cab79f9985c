// QIDO-RS matching over the index, on both backends: the wildcard, list and range
// kinds and the orders that the two dialects spell differently.
#include <gtest/gtest.h>

#include "backends.hpp"
#include "support/process.hpp"
#include "volnode/storage/dicomweb_queries.hpp"
#include "volnode/storage/index.hpp"

using namespace volnode;
using volnode::test::Backend;
using volnode::test::TempDir;

namespace {

NewInstance instance(const std::string& study, const std::string& series, const std::string& sop,
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
    index.addInstance(instance("1.1", "1.1.10", "1.1.10.1", "Doe^Jane", "CT", "10"));
    index.addInstance(instance("1.1", "1.1.9", "1.1.9.1", "Doe^Jane", "SR", "9"));
    index.addInstance(instance("1.2", "1.2.1", "1.2.1.1", "Roe_100%^Rich", "MR", "1"));
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

VOLNODE_ON_BOTH_BACKENDS(DicomWebQueriesTest);
