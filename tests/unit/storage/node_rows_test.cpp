// Several serve nodes on one index and one store (migration 008): the slots and the
// associations carry the node's name, so a starting node settles only its own slots
// and closes only its own open associations, and completion learns which studies an
// association open on another live node still delivers to.
#include <gtest/gtest.h>

#include <fstream>

#include "backends.hpp"
#include "support/index_records.hpp"
#include "support/dicom_files.hpp"
#include "support/postgres_server.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/core/files.hpp"
#include "volnode/storage/cluster_members.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/instance_store.hpp"
#include "volnode/storage/reconciliation.hpp"

using namespace volnode;
using namespace volnode::test;

namespace {

// One serve node's view of the shared index and store.
struct NodeOnStore {
  NodeOnStore(const IndexLocation& location, const std::filesystem::path& store_dir, const std::string& name)
      : index(location) {
    if (!name.empty()) index.ownRowsAs(name);
    files = std::make_unique<FileStore>(store_dir, false, index, 4);
    config.dir = store_dir.string();
    config.min_free_mb = 0;
    store = std::make_unique<InstanceStore>(config, index, *files);
  }
  Index index;
  std::unique_ptr<FileStore> files;
  StorageConfig config;
  std::unique_ptr<InstanceStore> store;
};

std::string outcomeOf(Index& index, int64_t association) {
  for (const auto& a : index.recentAssociations(100))
    if (a.id == association) return a.outcome;
  return "";
}

class NodeRows : public ::testing::TestWithParam<Backend> {};

}  // namespace

// A peer's empty slot, the slot it is writing an instance into and its open association
// stay as they are while node a starts again and settles what it left itself.
TEST(NodeRowsOnPostgresql, AStartingNodeLeavesAPeersSlotsAndOpenAssociationAlone) {
  TempDir dir, source;
  const auto location = IndexLocation::postgresql(sharedPostgres().freshSchemaUrl());
  const auto store_dir = dir / "store";

  NodeOnStore peer(location, store_dir, "host-b:104");
  const Reservation peer_writing = peer.files->reserve();  // its batch of 4: 3 stay empty and ready
  SyntheticSeries s;
  s.rows = s.cols = 8;
  s.slices = 1;
  auto written = writeSyntheticSeries(s, source.path());
  std::ofstream(peer_writing.path, std::ios::binary | std::ios::trunc) << readFile(written.files[0]);
  const int64_t peer_association = peer.index.beginAssociation("CT01", "VOLNODE", "10.0.0.1");

  int64_t own_association = 0;
  {
    NodeOnStore before(location, store_dir, "host-a:104");  // node a, before it was killed
    before.files->reserve();
    own_association = before.index.beginAssociation("CT02", "VOLNODE", "10.0.0.2");
  }

  NodeOnStore restarted(location, store_dir, "host-a:104");
  EXPECT_EQ(restarted.index.closeStaleAssociations(), 1);
  EXPECT_EQ(outcomeOf(restarted.index, own_association), "interrupted");
  EXPECT_EQ(outcomeOf(restarted.index, peer_association), "open") << "a live peer's association is its own";

  auto report = reconcileStore(restarted.index, *restarted.files, *restarted.store);
  EXPECT_EQ(report.empty_slots_removed, 4) << report.summary();  // node a's batch
  EXPECT_EQ(report.peer_slots, 4) << report.summary();
  EXPECT_EQ(report.indexed, 0) << "the instance the peer is writing is not adopted: " << report.summary();
  EXPECT_EQ(report.incomplete_removed, 0) << report.summary();
  EXPECT_TRUE(restarted.index.slots().empty());
  EXPECT_EQ(peer.index.slots().size(), 4u);
  EXPECT_EQ(restarted.index.otherNodesSlots().size(), 4u);
  EXPECT_EQ(restarted.index.counts().instances, 0);
  EXPECT_EQ(readFile(peer_writing.path), readFile(written.files[0]));

  // The peer goes on: it indexes the instance it wrote.
  auto kept = peer.store->keep(peer_writing, "1.2.840.10008.5.1.4.1.1.2", sopInstanceUid(written.files[0]),
                               peer_association);
  EXPECT_EQ(kept.outcome, KeepOutcome::Stored) << kept.reason;
  EXPECT_EQ(peer.index.slots().size(), 3u);
}

// Rows written without a node name (before migration 008, or by a node that set none)
// are the starting node's own, on both backends.
TEST_P(NodeRows, RowsWithoutANodeNameCountAsTheStartingNodesOwn) {
  TempDir dir;
  const auto location = freshIndex(GetParam(), dir.path());
  int64_t association = 0;
  {
    NodeOnStore old(location, dir / "store", "");
    old.files->reserve();
    association = old.index.beginAssociation("CT01", "VOLNODE", "10.0.0.1");
  }
  NodeOnStore node(location, dir / "store", "host-a:104");
  EXPECT_EQ(node.index.slots().size(), 4u);
  EXPECT_TRUE(node.index.otherNodesSlots().empty());
  EXPECT_EQ(node.index.closeStaleAssociations(), 1);
  EXPECT_EQ(outcomeOf(node.index, association), "interrupted");
  auto report = reconcileStore(node.index, *node.files, *node.store);
  EXPECT_EQ(report.empty_slots_removed, 4) << report.summary();
  EXPECT_TRUE(node.index.slots().empty());
}

// On SQLite one serve node owns the index: every row is its own, whatever name wrote it
// (a node whose dicom.port changed still settles what it left).
TEST(NodeRows, OnSqliteEveryRowIsTheNodesOwn) {
  TempDir dir;
  {
    NodeOnStore old(dir / "index.sqlite", dir / "store", "host-a:104");
    old.files->reserve();
    old.index.beginAssociation("CT01", "VOLNODE", "10.0.0.1");
  }
  NodeOnStore node(dir / "index.sqlite", dir / "store", "host-a:11112");
  EXPECT_EQ(node.index.slots().size(), 4u);
  EXPECT_EQ(node.index.closeStaleAssociations(), 1);
  EXPECT_TRUE(node.index.studiesOpenOnOtherNodes().empty());
}

// The database-wide completion signal: studies that an association open on another node
// delivers to, as long as that node's heartbeat is fresh.
TEST(NodeRowsOnPostgresql, StudiesOpenOnAnotherLiveNode) {
  const std::string schema = sharedPostgres().freshSchema();
  const auto location = IndexLocation::postgresql(sharedPostgres().schemaUrl(schema));
  Index node_a(location), node_b(location), node_c(location);
  node_a.ownRowsAs("host-a:104");
  node_b.ownRowsAs("host-b:104");
  node_c.ownRowsAs("host-c:104");
  ClusterMembers members(location);
  auto member = [](const std::string& node) {
    MemberInfo info{"serve", "host", 1, 5, 0, ""};
    info.node = node;
    return info;
  };
  const int64_t member_a = members.join(member("host-a:104"));
  const int64_t member_b = members.join(member("host-b:104"));
  (void)member_a;

  const int64_t on_a = node_a.beginAssociation("CT01", "VOLNODE", "10.0.0.1");
  node_a.addInstance(ctInstanceRecord("1.2.3", "1.2.3.1", "1.2.3.1.1", on_a));
  const int64_t on_b = node_b.beginAssociation("CT01", "VOLNODE", "10.0.0.1");
  node_b.addInstance(ctInstanceRecord("1.2.3", "1.2.3.2", "1.2.3.2.1", on_b));
  node_b.addInstance(ctInstanceRecord("1.2.3", "1.2.3.2", "1.2.3.2.2", on_b));
  const int64_t other_study_on_b = node_b.beginAssociation("MR01", "VOLNODE", "10.0.0.3");
  node_b.addInstance(ctInstanceRecord("1.2.4", "1.2.4.1", "1.2.4.1.1", other_study_on_b));
  // Node c has no member row (it never joined, or was forgotten): its association counts for nothing.
  const int64_t on_c = node_c.beginAssociation("CT01", "VOLNODE", "10.0.0.1");
  node_c.addInstance(ctInstanceRecord("1.2.5", "1.2.5.1", "1.2.5.1.1", on_c));

  EXPECT_EQ(node_a.studiesOpenOnOtherNodes(), (std::set<std::string>{"1.2.3", "1.2.4"}));
  EXPECT_EQ(node_b.studiesOpenOnOtherNodes(), (std::set<std::string>{"1.2.3"})) << "node a's association";
  node_b.endAssociation(other_study_on_b, 1, 100, 0, "released");
  EXPECT_EQ(node_a.studiesOpenOnOtherNodes(), (std::set<std::string>{"1.2.3"}));

  // Node b falls silent for more than three heartbeats: it died, and holds up nothing.
  sharedPostgres().execute("UPDATE " + schema + ".cluster_members SET heartbeat_at = heartbeat_at - 60 WHERE id = " +
                           std::to_string(member_b));
  EXPECT_TRUE(node_a.studiesOpenOnOtherNodes().empty());
  ASSERT_TRUE(members.heartbeat(member_b, {}));  // it answers again
  EXPECT_EQ(node_a.studiesOpenOnOtherNodes(), (std::set<std::string>{"1.2.3"}));
  node_b.endAssociation(on_b, 2, 200, 0, "released");
  EXPECT_TRUE(node_a.studiesOpenOnOtherNodes().empty());
}

VOLNODE_ON_BOTH_BACKENDS(NodeRows);
