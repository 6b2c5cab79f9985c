#include <gtest/gtest.h>

#include <sqlite3.h>

#include <fstream>

#include "backends.hpp"
#include "support/postgres_server.hpp"
#include "support/process.hpp"
#include "volnode/core/error.hpp"
#include "volnode/storage/index.hpp"

using namespace volnode;
using volnode::test::Backend;
using volnode::test::TempDir;

namespace {

NewInstance instance(const std::string& sop_uid, const std::string& series_uid = "1.2.3.2",
                     const std::string& study_uid = "1.2.3.1") {
  NewInstance n;
  n.attributes.patient_id = "P1";
  n.attributes.patient_name = "Doe^Jane";
  n.attributes.study_uid = study_uid;
  n.attributes.series_uid = series_uid;
  n.attributes.sop_uid = sop_uid;
  n.attributes.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
  n.attributes.transfer_syntax_uid = "1.2.840.10008.1.2.1";
  n.attributes.modality = "CT";
  n.file_path = "ab/cd/" + sop_uid + ".dcm";
  n.file_size = 100;
  return n;
}

class IndexTest : public ::testing::TestWithParam<Backend> {};

}  // namespace

TEST_P(IndexTest, AddedInstancesBuildPatientStudySeries) {
  TempDir dir;
  Index index(test::freshIndex(GetParam(), dir.path()));
  index.addInstance(instance("1.2.3.4.1"));
  index.addInstance(instance("1.2.3.4.2"));
  index.addInstance(instance("1.2.3.4.3", "1.2.3.9"));
  auto counts = index.counts();
  EXPECT_EQ(counts.patients, 1);
  EXPECT_EQ(counts.studies, 1);
  EXPECT_EQ(counts.series, 2);
  EXPECT_EQ(counts.instances, 3);
  auto study = index.study("1.2.3.1");
  ASSERT_TRUE(study);
  EXPECT_EQ(study->series_count, 2);
  EXPECT_EQ(study->instances, 3);
  EXPECT_EQ(study->patient_name, "Doe^Jane");
  auto series = index.series("1.2.3.2");
  ASSERT_TRUE(series);
  EXPECT_EQ(series->instances, 2);
  EXPECT_EQ(series->state, SeriesState::Receiving);
  EXPECT_EQ(index.seriesFiles("1.2.3.2").size(), 2u);
  EXPECT_FALSE(index.series("9.9"));
}

TEST_P(IndexTest, StudySearchMatchesPatientAndModality) {
  TempDir dir;
  Index index(test::freshIndex(GetParam(), dir.path()));
  auto a = instance("1.1");
  a.attributes.patient_id = "ALPHA";
  auto b = instance("2.1", "2.2", "2.3");
  b.attributes.patient_id = "BETA";
  b.attributes.modality = "MR";
  index.addInstance(a);
  index.addInstance(b);
  StudyQuery q;
  q.text = "alp";
  ASSERT_EQ(index.listStudies(q).size(), 1u);
  EXPECT_EQ(index.listStudies(q)[0].patient_id, "ALPHA");
  q = {};
  q.modality = "MR";
  ASSERT_EQ(index.listStudies(q).size(), 1u);
  EXPECT_EQ(index.listStudies(q)[0].patient_id, "BETA");
}

TEST_P(IndexTest, LateInstanceReturnsSeriesToReceivingWithReason) {
  TempDir dir;
  Index index(test::freshIndex(GetParam(), dir.path()));
  index.addInstance(instance("1.1"));
  index.setSeriesState("1.2.3.2", SeriesState::Complete, "quiet 10 s");
  index.addInstance(instance("1.2"));
  auto series = index.series("1.2.3.2");
  EXPECT_EQ(series->state, SeriesState::Receiving);
  EXPECT_EQ(series->state_reason, "late instance after complete");
  auto transitions = index.seriesTransitions("1.2.3.2");
  ASSERT_EQ(transitions.size(), 3u);
  EXPECT_EQ(transitions[1].reason, "quiet 10 s");
}

TEST(Index, SchemaIsMigratedAndPersistsAcrossOpens) {
  TempDir dir;
  {
    Index index(dir / "index.sqlite");
    EXPECT_EQ(index.schemaVersion(), Index::latestSchemaVersion());
    index.addInstance(instance("1.1"));
  }
  Index reopened(dir / "index.sqlite");
  EXPECT_EQ(reopened.counts().instances, 1);
}

TEST(Index, DatabaseFromNewerVolnodeIsRefusedWithClearMessage) {
  TempDir dir;
  { Index index(dir / "index.sqlite"); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "index.sqlite").c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version = 999", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  try {
    Index index(dir / "index.sqlite");
    FAIL() << "newer schema accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::SchemaTooNew);
    EXPECT_NE(std::string(e.what()).find("999"), std::string::npos);
  }
}

TEST(Index, FileThatIsNotADatabaseIsRefusedNotOverwritten) {
  TempDir dir;
  {
    std::ofstream garbage(dir / "index.sqlite");
    garbage << std::string(4096, 'x');
  }
  EXPECT_THROW(Index(dir / "index.sqlite"), Error);
  EXPECT_EQ(std::filesystem::file_size(dir / "index.sqlite"), 4096u);
}

TEST_P(IndexTest, AssociationsAreRecordedAndStaleOnesClosed) {
  TempDir dir;
  Index index(test::freshIndex(GetParam(), dir.path()));
  auto done = index.beginAssociation("CT1", "VOLNODE", "127.0.0.1");
  index.endAssociation(done, 3, 300, 0, "released");
  index.beginAssociation("CT2", "VOLNODE", "127.0.0.1");
  EXPECT_EQ(index.counts().associations_open, 1);
  EXPECT_EQ(index.closeStaleAssociations(), 1);
  auto recent = index.recentAssociations(10);
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0].outcome, "interrupted");
  EXPECT_EQ(recent[1].instances, 3);
}

TEST_P(IndexTest, SchemaIsMigratedOnceAndDataPersistsAcrossOpens) {
  TempDir dir;
  const IndexLocation location = test::freshIndex(GetParam(), dir.path());
  {
    Index index(location);
    EXPECT_EQ(index.schemaVersion(), Index::latestSchemaVersion());
    index.addInstance(instance("1.1"));
  }
  Index reopened(location);
  EXPECT_EQ(reopened.schemaVersion(), Index::latestSchemaVersion());
  EXPECT_EQ(reopened.counts().instances, 1);
}

TEST_P(IndexTest, StudiesListTheirModalitiesSortedAndSeriesInNumericOrder) {
  TempDir dir;
  Index index(test::freshIndex(GetParam(), dir.path()));
  auto ten = instance("1.10", "1.2.3.10");
  ten.attributes.series_number = "10";
  ten.attributes.modality = "SR";
  auto nine = instance("1.9", "1.2.3.9");
  nine.attributes.series_number = "9";
  auto unnumbered = instance("1.0", "1.2.3.0");
  index.addInstance(ten);
  index.addInstance(nine);
  index.addInstance(unnumbered);
  EXPECT_EQ(index.study("1.2.3.1")->modalities, "CT\\SR");
  auto series = index.seriesOfStudy("1.2.3.1");
  ASSERT_EQ(series.size(), 3u);
  EXPECT_EQ(series[0].series_uid, "1.2.3.0") << "no number sorts as 0";
  EXPECT_EQ(series[1].series_uid, "1.2.3.9");
  EXPECT_EQ(series[2].series_uid, "1.2.3.10");
}

VOLNODE_ON_BOTH_BACKENDS(IndexTest);

// The newer-schema refusal holds for PostgreSQL too (its version is in volnode_schema).
TEST(IndexOnPostgresql, DatabaseFromNewerVolnodeIsRefusedWithClearMessage) {
  auto& server = test::sharedPostgres();
  const std::string schema = server.freshSchema();
  const auto location = IndexLocation::postgresql(server.schemaUrl(schema));
  { Index index(location); }
  server.execute("UPDATE " + schema + ".volnode_schema SET version = 999");
  try {
    Index index(location);
    FAIL() << "a newer schema must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::SchemaTooNew);
    EXPECT_NE(std::string(e.what()).find("999"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("password"), std::string::npos) << e.what();
  }
}

TEST(IndexOnPostgresql, AnUnreachableServerIsADatabaseErrorNamingTheRedactedUrl) {
  const int port = test::freePort();  // nothing listens there
  const auto location =
      IndexLocation::postgresql("postgresql://volnode@127.0.0.1:" + std::to_string(port) + "/volnode", "s3cret-pw");
  try {
    Index index(location);
    FAIL() << "no server, no index";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::Database);
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("s3cret-pw"), std::string::npos) << e.what();
  }
}
