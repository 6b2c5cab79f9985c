// Completion on a shared index: an association to the same study still open on another
// live node delays the early completion of a series this node received, as a local
// open association does; a peer whose heartbeat is stale holds up nothing. Against a
// real PostgreSQL (support/postgres_server.hpp).
#include <gtest/gtest.h>

#include "support/index_records.hpp"
#include "support/postgres_server.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/storage/cluster_members.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/workflow/completion.hpp"

namespace volnode {
namespace {

const char* const kOtherNodesStudy = "1.2.826.0.1.3680043.2.7";
const char* const kSeriesOnA = "1.2.826.0.1.3680043.2.7.1";
const char* const kSeriesOnB = "1.2.826.0.1.3680043.2.7.2";

// Node a received one series of the study and its association was released; node b
// still receives another series of the same study.
struct TwoNodes {
  TwoNodes() : schema(test::sharedPostgres().freshSchema()),
               location(IndexLocation::postgresql(test::sharedPostgres().schemaUrl(schema))),
               node_a(location), node_b(location), members(location) {
    node_a.ownRowsAs("host-a:104");
    node_b.ownRowsAs("host-b:104");
    MemberInfo b{"serve", "host-b", 2, 5, 0, ""};
    b.node = "host-b:104";
    member_b = members.join(b);
    config.quiet_s = 3600;  // only the early signal can complete here
    config.release_grace_s = 0;
    monitor = std::make_unique<CompletionMonitor>(config, node_a);

    const int64_t on_a = node_a.beginAssociation("CT01", "VOLNODE", "10.0.0.1");
    node_a.addInstance(test::ctInstanceRecord(kOtherNodesStudy, kSeriesOnA, std::string(kSeriesOnA) + ".1", on_a));
    monitor->instanceKept(kSeriesOnA, kOtherNodesStudy, on_a);
    on_b = node_b.beginAssociation("CT01", "VOLNODE", "10.0.0.1");
    node_b.addInstance(test::ctInstanceRecord(kOtherNodesStudy, kSeriesOnB, std::string(kSeriesOnB) + ".1", on_b));
    node_a.endAssociation(on_a, 1, 100, 0, "released");
    monitor->associationEnded(on_a);
  }
  std::string schema;
  IndexLocation location;
  Index node_a, node_b;
  ClusterMembers members;
  int64_t member_b = 0, on_b = 0;
  CompletionConfig config;
  std::unique_ptr<CompletionMonitor> monitor;
};

TEST(CompletionOnPostgresql, AnAssociationOpenOnAnotherNodeDelaysTheReleaseCompletion) {
  TwoNodes nodes;
  const double now = unixSecondsNow() + 1;
  EXPECT_TRUE(nodes.monitor->tick(now).empty()) << "node b still sends to the study";
  EXPECT_TRUE(nodes.monitor->tick(now + 1).empty());

  nodes.node_b.endAssociation(nodes.on_b, 1, 100, 0, "released");
  auto completed = nodes.monitor->tick(now + 2);
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_EQ(completed[0].series.series_uid, kSeriesOnA) << "node b's series waits for node b's own signals";
  EXPECT_EQ(completed[0].reason.rfind("association released", 0), 0u) << completed[0].reason;
}

TEST(CompletionOnPostgresql, APeerWhoseHeartbeatIsStaleHoldsUpNothing) {
  TwoNodes nodes;
  const double now = unixSecondsNow() + 1;
  EXPECT_TRUE(nodes.monitor->tick(now).empty());
  // Node b died with its association open: silent for more than three heartbeats.
  test::sharedPostgres().execute("UPDATE " + nodes.schema + ".cluster_members SET heartbeat_at = heartbeat_at - 60 "
                                 "WHERE id = " + std::to_string(nodes.member_b));
  auto completed = nodes.monitor->tick(now + 1);
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_EQ(completed[0].series.series_uid, kSeriesOnA);
}

}  // namespace
}  // namespace volnode
