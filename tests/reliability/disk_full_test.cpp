// Disk full during ingest: storage.dir on a 40 MB tmpfs with storage.min_free_mb=0
// (the watermark cannot help), filled until writes fail. A C-STORE whose dataset
// cannot be written is answered 0xA700 with an error comment naming the problem,
// never Success, and the association goes on with the next instance; no partly
// written file stays in the store; what was stored before stays intact and indexed;
// after a filler file is deleted, ingest works again without a restart. Needs
// mount(2) (the suite runs as root); skips otherwise. About 10 s.
#include <gtest/gtest.h>

#include <sys/statvfs.h>

#include <fstream>
#include <set>
#include <sstream>

#include "reliability_support.hpp"
#include "support/dicom_files.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using namespace volnode::test::reliability;

namespace {

// A tmpfs mounted for the test's lifetime; unmounted (lazily, if still busy) on destruction.
class TmpfsMount {
 public:
  TmpfsMount(const std::filesystem::path& dir, const std::string& size) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    auto result = run({"mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir_.string()}, 20s);
    mounted_ = result.exit_code == 0;
    error_ = result.output;
  }
  ~TmpfsMount() {
    if (!mounted_) return;
    if (run({"umount", dir_.string()}, 20s).exit_code != 0) run({"umount", "-l", dir_.string()}, 20s);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
  std::string error_;
};

uint64_t freeBytes(const std::filesystem::path& dir) {
  struct statvfs s{};
  if (::statvfs(dir.c_str(), &s) != 0) return 0;
  return uint64_t(s.f_bavail) * s.f_frsize;
}

// Writes a file of zeros until `leave` bytes remain free (best effort).
void fill(const std::filesystem::path& file, uint64_t leave) {
  std::ofstream out(file, std::ios::binary);
  std::string chunk(1 << 20, '\0');
  while (freeBytes(file.parent_path()) > leave + chunk.size()) out.write(chunk.data(), std::streamsize(chunk.size()));
  out.flush();
  uint64_t rest = freeBytes(file.parent_path());
  if (rest > leave) out.write(chunk.data(), std::streamsize(std::min<uint64_t>(rest - leave, chunk.size())));
}

std::string readAll(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every file in the store is an indexed instance or an unused (empty) slot of the ledger.
void expectNoStrayFiles(const NodeProcess& node) {
  std::set<std::string> known;
  for (const auto& row : indexedInstances(storageDir(node))) known.insert(row.file_path);
  std::set<std::string> slots;
  for (const auto& slot : fileSlots(storageDir(node))) slots.insert(slot);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(storeDir(node))) {
    if (!entry.is_regular_file()) continue;
    auto relative = std::filesystem::relative(entry.path(), storeDir(node)).string();
    if (known.count(relative)) continue;
    EXPECT_TRUE(slots.count(relative)) << "a file neither indexed nor a slot: " << relative;
    EXPECT_EQ(entry.file_size(), 0u) << "an unused slot holds data (half-written instance?): " << relative;
  }
}

// Checks the index against the store: every indexed file exists and parses completely.
void expectIndexConsistent(const NodeProcess& node, std::map<std::string, std::string>* path_of = nullptr) {
  for (const auto& row : indexedInstances(storageDir(node))) {
    auto file = storeDir(node) / row.file_path;
    ASSERT_TRUE(std::filesystem::exists(file)) << "indexed file missing: " << row.file_path;
    std::string why;
    EXPECT_TRUE(parsesCompletely(file, &why)) << "indexed file damaged: " << row.file_path << ": " << why;
    if (path_of) (*path_of)[row.sop_uid] = row.file_path;
  }
}

}  // namespace

TEST(DiskFull, StoreAnswersFailureKeepsWhatItHasAndResumesWhenSpaceReturns) {
  TempDir dir("volnode-rel-disk-full");
  auto node_dir = dir / "node";
  TmpfsMount mount(node_dir / "var", "40m");
  if (!mount.mounted()) GTEST_SKIP() << "cannot mount a tmpfs (needs root / CAP_SYS_ADMIN): " << mount.error();

  auto node = std::make_unique<NodeProcess>(
      node_dir, std::vector<std::string>{noRendering(dir.path()), "storage.min_free_mb=0",
                                         // the node's own log goes outside the small disk
                                         "log.file=" + (dir / "volnode.log").string()});

  // 1. Some instances stored while there is room.
  SyntheticSeries first;
  first.rows = first.cols = 256;  // 128 kB per instance
  first.slices = 10;
  auto before = writeSyntheticSeries(first, dir / "before");
  auto argv = node->scu("storescu", {"-v", "+sd"});
  argv.push_back((dir / "before").string());
  auto stored_before = run(argv);
  ASSERT_EQ(stored_before.exit_code, 0) << stored_before.output;
  std::map<std::string, std::string> path_of;
  expectIndexConsistent(*node, &path_of);
  ASSERT_EQ(path_of.size(), 10u);
  std::map<std::string, std::string> bytes_before;  // relative path -> whole file
  for (const auto& [uid, relative] : path_of) bytes_before[relative] = readAll(storeDir(*node) / relative);

  // 2. Fill the disk to ~1 MB free and stream 60 more instances (~7.5 MB).
  auto filler = node_dir / "var" / "filler.bin";
  fill(filler, 1 << 20);
  SyntheticSeries second = first;
  second.slices = 60;
  auto during = writeSyntheticSeries(second, dir / "during");
  std::map<std::string, std::string> uid_of;
  for (const auto& f : during.files) uid_of[f.string()] = sopInstanceUid(f);
  argv = node->scu("storescu", {"-v", "+sd", "-nh"});
  argv.push_back((dir / "during").string());
  auto full = run(argv, 120s);
  ASSERT_FALSE(full.timed_out) << "storescu hung against a full disk";
  const int successes = responsesWith(full.output, "Success");
  const int out_of_resources = responsesWith(full.output, "Refused: OutOfResources");
  std::string node_said;
  {
    std::istringstream log(node->log());
    for (std::string line; std::getline(log, line);)
      if (line.find("C-STORE") != std::string::npos && node_said.size() < 2000) node_said += line + "\n";
  }
  // The disk filled up: some instance cannot have been kept. It must be answered
  // 0xA700; an association dropped mid-stream leaves the sender guessing.
  EXPECT_GT(out_of_resources, 0) << "no 0xA700 answer although the disk was full:\n"
                                 << full.output << "\nthe node logged:\n" << node_said;
  EXPECT_EQ(full.output.find("Peer aborted Association"), std::string::npos)
      << "the association was aborted on a full disk:\n" << full.output;
  // Every instance got its answer on the one association: it went on after each failure.
  EXPECT_EQ(responsesWith(full.output, ""), 60) << full.output;
  EXPECT_EQ(successes + out_of_resources, responsesWith(full.output, ""))
      << "answers other than Success / 0xA700:\n" << full.output;
  ASSERT_TRUE(node->running()) << "the node died on a full disk\n" << node->log();
  EXPECT_TRUE(echo(*node).has_value());
  // SQLite rolls a transaction back itself on SQLITE_FULL; the node must not then
  // report a failed ROLLBACK as an error of its own.
  EXPECT_EQ(node->log().find("rollback failed"), std::string::npos) << node->log();

  // The failure names its cause in the response's error comment (0000,0902).
  argv = node->scu("storescu", {"-d"});
  argv.push_back(during.files.back().string());
  auto detailed = run(argv, 60s);
  EXPECT_NE(detailed.output.find("0xa700"), std::string::npos) << detailed.output;
  auto comment = detailed.output.find("(0000,0902)");
  ASSERT_NE(comment, std::string::npos) << "no error comment in the 0xA700 answer:\n" << detailed.output;
  const std::string said = detailed.output.substr(comment, detailed.output.find('\n', comment) - comment);
  // The slot file cannot be written (ENOSPC), or the index cannot grow to record a new slot.
  EXPECT_TRUE(said.find("No space left on device") != std::string::npos ||
              said.find("disk is full") != std::string::npos)
      << "the 0xA700 answer does not say the disk is full: " << said;
  argv = node->scu("storescu", {"-v", "+sd", "-nh"});
  argv.push_back((dir / "during").string());

  // 3. Nothing already stored is damaged; every acknowledged instance is whole; the index is consistent.
  path_of.clear();
  expectIndexConsistent(*node, &path_of);
  for (const auto& [relative, bytes] : bytes_before)
    EXPECT_TRUE(readAll(storeDir(*node) / relative) == bytes) << "an earlier instance changed: " << relative;
  for (const auto& file : acknowledgedFiles(full.output)) {
    const auto& uid = uid_of[file];
    ASSERT_TRUE(path_of.count(uid)) << "acknowledged on a full disk but not indexed: " << file;
    EXPECT_TRUE(datasetBytes(storeDir(*node) / path_of[uid]) == datasetBytes(file))
        << "acknowledged on a full disk but stored incompletely: " << file;
  }
  expectNoStrayFiles(*node);
  auto health = apiJson(*node, "/api/health");
  EXPECT_EQ(health["index"]["instances"].get<int64_t>(), static_cast<int64_t>(path_of.size()));

  // 4. Space returns: the same series goes through completely, no restart.
  std::filesystem::remove(filler);
  auto resumed = run(argv, 120s);
  EXPECT_EQ(resumed.exit_code, 0) << "ingest did not resume after space was freed:\n" << resumed.output;
  EXPECT_EQ(responsesWith(resumed.output, "Success"), 60) << resumed.output;
  path_of.clear();
  expectIndexConsistent(*node, &path_of);
  for (const auto& [file, uid] : uid_of) {
    ASSERT_TRUE(path_of.count(uid)) << "not stored after space returned: " << file;
    EXPECT_TRUE(datasetBytes(storeDir(*node) / path_of[uid]) == datasetBytes(file)) << file;
  }
  EXPECT_EQ(path_of.size(), 70u);
  expectNoStrayFiles(*node);
  RecordProperty("acknowledged_while_full", successes);
  RecordProperty("refused_while_full", out_of_resources);
  node->kill9();  // a clean stop is not under test; the tmpfs goes after the node
  node.reset();
}
