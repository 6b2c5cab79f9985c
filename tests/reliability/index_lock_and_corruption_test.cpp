// The index is the node's memory: a second node on the same storage folder, or
// an index that is not an SQLite database any more, must stop start-up with a
// message an administrator can act on, and never replace the file.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <fstream>
#include <sstream>

#include "reliability_support.hpp"
#include "support/dicom_files.hpp"
#include "support/suite_index.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using namespace volnode::test::reliability;

namespace {

// `volnode serve` on an existing storage folder. It must refuse to start: when it
// is still running after `patience`, it is stopped and reported as timed out.
RunResult serveOn(const std::filesystem::path& storage, const std::filesystem::path& scratch,
                  std::chrono::seconds patience = 10s) {
  std::filesystem::create_directories(scratch);
  auto output = scratch / "serve-output.txt";
  ChildProcess serve(withSuiteIndexArgs({VOLNODE_BINARY, "serve", "--set", "dicom.port=" + std::to_string(freePort()),
                                         "--set", "console.port=" + std::to_string(freePort()), "--set",
                                         "storage.dir=" + storage.string(), "--set", "storage.min_free_mb=0", "--set",
                                         "log.file=" + (scratch / "second.log").string(), "--set", noRendering(scratch)},
                                        storage),
                     output);
  RunResult result;
  result.exit_code = serve.wait(patience);
  if (serve.running()) {
    result.timed_out = true;
    result.exit_code = -1;
    serve.kill9();
  }
  result.output = readBytes(output);
  return result;
}

// A node that stored a few instances and was stopped cleanly; returns its storage folder.
void populate(const std::filesystem::path& dir) {
  NodeProcess node(dir, {noRendering(dir)});
  SyntheticSeries s;
  s.slices = 3;
  auto written = writeSyntheticSeries(s, dir / "source");
  ASSERT_NO_FATAL_FAILURE(pushFolder(node, dir / "source"));
  // kill -9 is quicker than a clean stop (seconds); closing the index once with the
  // sqlite3 tool checkpoints the WAL into index.sqlite, as the clean stop would.
  // Its worker processes die with it (PR_SET_PDEATHSIG) a moment later; until they
  // have, the WAL stays open.
  node.kill9();
  auto index = dir / "var" / "index.sqlite";
  bool checkpointed = false;
  for (int attempt = 0; attempt < 50 && !checkpointed; ++attempt) {
    ASSERT_EQ(run({"sqlite3", index.string(), "PRAGMA integrity_check"}).exit_code, 0);
    checkpointed = !std::filesystem::exists(dir / "var" / "index.sqlite-wal");
    if (!checkpointed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(checkpointed) << "a process still holds the index open";
}

}  // namespace

TEST(IndexLock, SecondNodeOnTheSameStorageFolderStopsWithAMessageNamingTheLock) {
  VOLNODE_SKIP_ON_POSTGRESQL("on PostgreSQL serve nodes under different names share a store by design "
                             "(SeveralServeNodesOnPostgresql); only the same name is refused");
  TempDir dir("volnode-rel-lock");
  NodeProcess first(dir / "first", {noRendering(dir.path())});
  auto second = serveOn(storageDir(first), dir / "second");
  EXPECT_FALSE(second.timed_out) << "the second node kept running on a folder in use";
  EXPECT_NE(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("volnode.lock"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("in use"), std::string::npos) << second.output;
  // The first node is untouched and still serves.
  EXPECT_TRUE(first.running());
  EXPECT_TRUE(echo(first).has_value());
  EXPECT_EQ(apiJson(first, "/api/health")["status"], "ok");
  first.kill9();  // a clean stop is not under test; it costs seconds
}

TEST(IndexCorruption, OverwrittenHeaderIsRefusedAndTheFileIsLeftAsItWas) {
  VOLNODE_SKIP_ON_POSTGRESQL("overwrites the header of the SQLite index file");
  TempDir dir("volnode-rel-corrupt");
  populate(dir / "node");
  if (HasFatalFailure()) return;
  auto storage = dir / "node" / "var";
  auto index = storage / "index.sqlite";
  ASSERT_TRUE(std::filesystem::exists(index));
  {
    std::fstream f(index, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f << "THIS IS NOT SQLITE, IT WAS OVERWRITTEN";  // the 16-byte magic and the page size
  }
  const std::string corrupt = readBytes(index);
  auto result = serveOn(storage, dir / "scratch");
  EXPECT_FALSE(result.timed_out) << "the node started on a corrupt index";
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("index.sqlite"), std::string::npos) << "message does not name the index:\n"
                                                                   << result.output;
  EXPECT_NE(result.output.find("not a database"), std::string::npos) << result.output;
  EXPECT_TRUE(readBytes(index) == corrupt) << "the corrupt index was rewritten or recreated";
  EXPECT_FALSE(std::filesystem::exists(storage / "index.sqlite-wal") &&
               std::filesystem::file_size(storage / "index.sqlite-wal") > 0)
      << "the node wrote a WAL for the corrupt index";
}

// An index truncated to nothing (a restored-from-nothing backup, an operator's
// `> index.sqlite`) looks to SQLite like a new database. With instances in the
// store, starting with an empty index would forget all of them (and the job
// history is gone with it): the node refuses and names `volnode reindex`.
TEST(IndexCorruption, EmptiedIndexWithAFullStoreIsNotSilentlyReplaced) {
  VOLNODE_SKIP_ON_POSTGRESQL("empties the SQLite index file");
  TempDir dir("volnode-rel-empty-index");
  populate(dir / "node");
  if (HasFatalFailure()) return;
  auto storage = dir / "node" / "var";
  auto index = storage / "index.sqlite";
  std::filesystem::resize_file(index, 0);
  auto result = serveOn(storage, dir / "scratch", 5s);
  EXPECT_FALSE(result.timed_out) << "the node started on an emptied index";
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("volnode reindex"), std::string::npos) << result.output;
  EXPECT_EQ(std::filesystem::file_size(index), 0u) << "the emptied index was re-created";
  EXPECT_EQ(instancesUnder(storage / "store").size(), 3u);
}
