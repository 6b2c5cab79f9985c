// Malformed and hostile DICOM (the corpus is generated here at run time; see
// tests/data/malformed/README.md for what each case is and why). Each case is
// sent with storescu; what storescu itself cannot parse is sent over a hand-made
// association instead. Every instance must get a DIMSE answer; what is stored must
// end refused (or failed) with a reason; the node never crashes or hangs, and
// writes nothing outside its storage folder. About 30 s.
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dctk.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <set>
#include <sstream>

#include "reliability_support.hpp"
#include "support/dicom_files.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using namespace volnode::test::reliability;

namespace {

constexpr char kCtImage[] = "1.2.840.10008.5.1.4.1.1.2";
constexpr char kBasicTextSr[] = "1.2.840.10008.5.1.4.1.1.88.11";
constexpr char kEncapsulatedPdf[] = "1.2.840.10008.5.1.4.1.1.104.1";
constexpr char kExplicitLittle[] = "1.2.840.10008.1.2.1";
constexpr int kVolumeSlices = 24;  // enough for the CT rule (>= 20): the render path sees the defect

void writeBytes(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

uint32_t le32(const std::string& b, size_t at) {
  return uint32_t(uint8_t(b[at])) | (uint32_t(uint8_t(b[at + 1])) << 8) | (uint32_t(uint8_t(b[at + 2])) << 16) |
         (uint32_t(uint8_t(b[at + 3])) << 24);
}
void setLe32(std::string& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = char((v >> (8 * i)) & 0xFF);
}
std::string le16s(uint16_t v) { return {char(v & 0xFF), char(v >> 8)}; }
std::string le32s(uint32_t v) { return le16s(uint16_t(v & 0xFFFF)) + le16s(uint16_t(v >> 16)); }

// Offset of the dataset in a Part 10 file (after the meta header, by its group length).
size_t datasetOffset(const std::string& bytes) {
  if (bytes.size() < 144 || bytes.compare(128, 4, "DICM") != 0) return 0;
  return 144 + le32(bytes, 140);
}

// Offset of the PixelData element header (explicit VR little endian).
size_t pixelDataOffset(const std::string& bytes) {
  return bytes.rfind(std::string("\xE0\x7F\x10\x00", 4) + "OW");
}

struct CaseFile {
  std::filesystem::path path;
  std::string sop_class;
  std::string sop_uid;
};

struct Case {
  std::string name;
  std::string series_uid;  // "" when the series UID itself is hostile
  std::vector<CaseFile> files;
  bool expect_refused_at_store = false;  // e.g. hostile UIDs: never indexed
  std::vector<std::string> answers;      // one per file: the DIMSE answer or what went wrong
  int stored = 0;
};

class Corpus {
 public:
  explicit Corpus(const std::filesystem::path& root) : root_(root) {}

  // A renderable-looking CT volume (64x64, 24 slices) whose every file `edit` changes.
  Case volume(const std::string& name, const std::function<void(DcmDataset&)>& edit,
              const std::function<void(std::string&)>& bytes_edit = {}) {
    SyntheticSeries s;
    s.rows = s.cols = 64;
    s.row_spacing = s.col_spacing = 2.0;
    s.slices = kVolumeSlices;
    s.slice_spacing = 5.0;
    s.origin = {-64, -64, -60};
    s.series_description = "malformed " + name;
    s.value = OrientationPhantom{}.function();
    auto folder = root_ / name;
    auto written = writeSyntheticSeries(s, folder);
    Case c;
    c.name = name;
    c.series_uid = written.series_instance_uid;
    for (const auto& f : written.files) c.files.push_back(rewrite(f, edit, bytes_edit));
    return c;
  }

  // One CT image (32x32) changed by `edit`.
  Case single(const std::string& name, const std::function<void(DcmDataset&)>& edit,
              const std::function<void(std::string&)>& bytes_edit = {}) {
    SyntheticSeries s;
    s.rows = s.cols = 32;
    s.slices = 1;
    s.series_description = "malformed " + name;
    auto folder = root_ / name;
    auto written = writeSyntheticSeries(s, folder);
    Case c;
    c.name = name;
    c.series_uid = written.series_instance_uid;
    c.files.push_back(rewrite(written.files.front(), edit, bytes_edit));
    return c;
  }

 private:
  CaseFile rewrite(const std::filesystem::path& file, const std::function<void(DcmDataset&)>& edit,
                   const std::function<void(std::string&)>& bytes_edit) {
    DcmFileFormat format;
    if (format.loadFile(file.c_str()).bad()) throw std::runtime_error("cannot reload " + file.string());
    // Pixel data DCMTK left on disk would be read from the file while it is overwritten
    // (and come out empty): load everything before saving over it.
    format.loadAllDataIntoMemory();
    DcmDataset& ds = *format.getDataset();
    if (edit) edit(ds);
    CaseFile out{file, "", ""};
    OFString value;
    ds.findAndGetOFStringArray(DCM_SOPClassUID, value);
    out.sop_class = value.c_str();
    ds.findAndGetOFStringArray(DCM_SOPInstanceUID, value);
    out.sop_uid = value.c_str();
    // Meta header from the (possibly hostile) dataset, written as is.
    OFCondition saved = format.saveFile(file.c_str(), EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_recalcGL,
                                        EPD_noChange, 0, 0, EWM_updateMeta);
    if (saved.bad()) throw std::runtime_error("cannot save " + file.string() + ": " + saved.text());
    if (bytes_edit) {
      std::string bytes = readBytes(file);
      bytes_edit(bytes);
      writeBytes(file, bytes);
    }
    return out;
  }

  std::filesystem::path root_;
};

// Nested sequences `depth` deep, built with DCMTK.
void nest(DcmDataset& ds, int depth) {
  DcmItem* current = &ds;
  for (int level = 0; level < depth; ++level) {
    auto* sequence = new DcmSequenceOfItems(DCM_ReferencedImageSequence);
    auto* item = new DcmItem();
    sequence->insert(item);
    current->insert(sequence, true);
    current = item;
  }
  current->putAndInsertString(DCM_ReferencedSOPInstanceUID, "1.2.3.4");
}

// The same, as raw bytes (undefined lengths), inserted before the pixel data.
void nestRaw(std::string& bytes, int depth) {
  std::string open, close;
  const std::string sq = std::string("\x08\x00\x40\x11", 4) + "SQ" + std::string(2, '\0') + le32s(0xFFFFFFFF);
  const std::string item = std::string("\xFE\xFF\x00\xE0", 4) + le32s(0xFFFFFFFF);
  const std::string item_end = std::string("\xFE\xFF\x0D\xE0", 4) + le32s(0);
  const std::string sq_end = std::string("\xFE\xFF\xDD\xE0", 4) + le32s(0);
  for (int i = 0; i < depth; ++i) open += sq + item;
  for (int i = 0; i < depth; ++i) close += item_end + sq_end;
  bytes.insert(pixelDataOffset(bytes), open + close);
}

void setUint16(DcmDataset& ds, const DcmTagKey& tag, Uint16 v) { ds.putAndInsertUint16(tag, v); }

std::vector<Case> buildCorpus(const std::filesystem::path& root) {
  Corpus corpus(root);
  std::vector<Case> cases;
  // --- header values that lie about the pixels (stored; the render path must refuse) ---
  cases.push_back(corpus.volume("absurd-rows-columns", [](DcmDataset& d) {
    setUint16(d, DCM_Rows, 65535);
    setUint16(d, DCM_Columns, 65535);
  }));
  cases.push_back(corpus.volume("zero-rows", [](DcmDataset& d) { setUint16(d, DCM_Rows, 0); }));
  cases.push_back(corpus.volume("bits-allocated-64", [](DcmDataset& d) {
    setUint16(d, DCM_BitsAllocated, 64);
    setUint16(d, DCM_BitsStored, 64);
    setUint16(d, DCM_HighBit, 63);
  }));
  cases.push_back(corpus.volume("bits-allocated-7", [](DcmDataset& d) {
    setUint16(d, DCM_BitsAllocated, 7);
    setUint16(d, DCM_BitsStored, 7);
    setUint16(d, DCM_HighBit, 6);
  }));
  cases.push_back(corpus.volume("samples-per-pixel-3-on-gray", [](DcmDataset& d) {
    setUint16(d, DCM_SamplesPerPixel, 3);
  }));
  cases.push_back(corpus.volume("missing-pixel-data", [](DcmDataset& d) { delete d.remove(DCM_PixelData); }));
  cases.push_back(corpus.volume("pixel-data-shorter-than-rows-x-columns", [](DcmDataset& d) {
    std::vector<Uint16> half(64 * 32, 0);
    d.putAndInsertUint16Array(DCM_PixelData, half.data(), unsigned(half.size()));
  }));
  cases.push_back(corpus.volume("nan-geometry", [](DcmDataset& d) {
    d.putAndInsertString(DCM_PixelSpacing, "0\\0");
    d.putAndInsertString(DCM_ImageOrientationPatient, "NaN\\0\\0\\0\\NaN\\0");
  }));
  // --- byte-level damage DCMTK would not write (sent raw when storescu cannot parse it) ---
  cases.push_back(corpus.volume("truncated-in-pixel-data", {}, [](std::string& b) {
    size_t at = pixelDataOffset(b);
    b.resize(at + 12 + le32(b, at + 8) / 2);
  }));
  cases.push_back(corpus.volume("pixel-length-beyond-end", {}, [](std::string& b) {
    setLe32(b, pixelDataOffset(b) + 8, 0x7FFFFFF0);
  }));
  cases.push_back(corpus.single("truncated-in-header", {}, [](std::string& b) {
    b.resize(datasetOffset(b) + 38);  // inside an element of the first group (PDVs must be even)
  }));
  cases.push_back(corpus.single("odd-length-us-element", {}, [](std::string& b) {
    size_t at = b.find(std::string("\x28\x00\x10\x00", 4) + "US");  // Rows
    if (at != std::string::npos) b[at + 6] = 3;
  }));
  cases.push_back(corpus.single("element-length-beyond-end", {}, [](std::string& b) {
    // A private UN element that claims ~4 GB, just before the pixel data.
    std::string element = std::string("\x29\x00\x10\x10", 4) + "UN" + std::string(2, '\0') + le32s(0xFFFFFFF0);
    b.insert(pixelDataOffset(b), element);
  }));
  cases.push_back(corpus.single("garbage-after-header", {}, [](std::string& b) {
    std::mt19937 random(7);
    size_t at = pixelDataOffset(b);
    for (size_t i = at; i < b.size(); ++i) b[i] = char(random());
  }));
  // --- structure and size ---
  cases.push_back(corpus.single("sequence-depth-500", [](DcmDataset& d) { nest(d, 500); }));
  cases.push_back(corpus.single("private-tag-20mb", [](DcmDataset& d) {
    d.putAndInsertString(DcmTag(0x0099, 0x0010, EVR_LO), "VOLNODE HOSTILE");
    std::vector<Uint8> big(20u << 20, 0xAB);
    d.putAndInsertUint8Array(DcmTag(0x0099, 0x1000, EVR_OB), big.data(), unsigned(big.size()));
  }));
  // --- classes that are not images ---
  cases.push_back(corpus.single("basic-text-sr-without-content", [](DcmDataset& d) {
    d.putAndInsertString(DCM_SOPClassUID, kBasicTextSr);
    d.putAndInsertString(DCM_Modality, "SR");
    delete d.remove(DCM_PixelData);
  }));
  cases.push_back(corpus.single("encapsulated-pdf-with-garbage", [](DcmDataset& d) {
    d.putAndInsertString(DCM_SOPClassUID, kEncapsulatedPdf);
    d.putAndInsertString(DCM_Modality, "DOC");
    delete d.remove(DCM_PixelData);
    std::string junk(1000, 'x');
    d.putAndInsertUint8Array(DCM_EncapsulatedDocument, reinterpret_cast<const Uint8*>(junk.data()),
                             unsigned(junk.size()));
  }));
  // --- hostile text and UIDs ---
  cases.push_back(corpus.single("script-in-series-description", [](DcmDataset& d) {
    d.putAndInsertString(DCM_SeriesDescription, "<script>alert(1)</script>");
    d.putAndInsertString(DCM_PatientName, "\"}];<img src=x onerror=alert(2)>");
  }));
  auto hostile_uid = [&](const std::string& name, const DcmTagKey& tag, const std::string& value) {
    Case c = corpus.single(name, [&](DcmDataset& d) { d.putAndInsertString(tag, value.c_str()); });
    c.expect_refused_at_store = true;
    if (tag == DCM_SeriesInstanceUID) c.series_uid.clear();
    return c;
  };
  cases.push_back(hostile_uid("sop-uid-dot-dot-slash", DCM_SOPInstanceUID, "../../../../tmp/volnode-evil"));
  cases.push_back(hostile_uid("series-uid-dot-dot-slash", DCM_SeriesInstanceUID, "1.2.3/../../../volnode-evil"));
  cases.push_back(hostile_uid("study-uid-control-characters", DCM_StudyInstanceUID, "1.2.3\x01\x1b[31m\n4"));
  cases.push_back(hostile_uid("sop-uid-too-long", DCM_SOPInstanceUID, "1." + std::string(200, '2')));
  return cases;
}

// Sends one case: storescu first; files storescu answered nothing for go raw.
void send(const NodeProcess& node, Case& c, const std::filesystem::path& scratch) {
  auto argv = node.scu("storescu", {"-v", "-nh", "-R", "-to", "10", "-ta", "10", "-td", "30"});
  for (const auto& f : c.files) argv.push_back(f.path.string());
  auto result = run(argv, 120s);
  std::map<std::string, std::string> answer_of;  // file -> response text
  {
    std::istringstream in(result.output);
    std::string current;
    for (std::string line; std::getline(in, line);) {
      auto at = line.find("Sending file: ");
      if (at != std::string::npos) current = line.substr(at + 14);
      at = line.find("Received Store Response (");
      if (at != std::string::npos && !current.empty()) {
        answer_of[current] = line.substr(at + 25, line.size() - at - 26);
        current.clear();
      }
    }
  }
  for (const auto& f : c.files) {
    auto found = answer_of.find(f.path.string());
    if (found != answer_of.end()) {
      c.answers.push_back("storescu: " + found->second);
      if (found->second == "Success") ++c.stored;
      continue;
    }
    // storescu could not read or send it: hand-made association with the file's dataset bytes.
    std::string bytes = readBytes(f.path);
    std::string dataset = bytes.substr(std::min(datasetOffset(bytes), bytes.size()));
    RawAssociation raw;
    if (!raw.open(node.dicomPort(), f.sop_class.empty() ? kCtImage : f.sop_class, kExplicitLittle)) {
      c.answers.push_back("raw: association failed: " + raw.lastError());
      continue;
    }
    int status = raw.store(f.sop_class.empty() ? kCtImage : f.sop_class, f.sop_uid.empty() ? "1.2.3" : f.sop_uid,
                           dataset);
    if (status < 0) {
      c.answers.push_back("raw: no answer: " + raw.lastError());
    } else {
      char text[32];
      std::snprintf(text, sizeof text, "raw: 0x%04X", status);
      c.answers.push_back(text);
      if (status == 0) ++c.stored;
    }
    raw.release();
  }
}

// Every regular file under `root`, except the parts the node and the corpus own.
std::set<std::string> filesOutsideStore(const std::filesystem::path& root, const std::filesystem::path& var,
                                        const std::filesystem::path& corpus) {
  std::set<std::string> out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const auto& p = entry.path();
    auto under = [&](const std::filesystem::path& dir) {
      auto rel = std::filesystem::relative(p, dir);
      return !rel.empty() && rel.native().rfind("..", 0) != 0;
    };
    if (under(var / "store") || under(var / "results") || under(corpus)) continue;
    auto name = p.filename().string();
    if (name.rfind("index.sqlite", 0) == 0 || name.rfind("volnode.log", 0) == 0 || name == "node.log") continue;
    out.insert(p.string());
  }
  return out;
}

std::set<std::string> evilFilesInTmp() {
  std::set<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path()))
    if (entry.path().filename().string().find("volnode-evil") != std::string::npos) out.insert(entry.path());
  return out;
}

}  // namespace

// Nesting depth is the one defect a parser meets with its stack: sequences nested
// deeper and deeper, each C-STORE sent raw (storescu's own parser would be the
// first to fall), until the node stops answering or the deepest case passed.
TEST(MalformedDicom, DeeplyNestedSequencesDoNotCrashTheNode) {
  TempDir dir("volnode-rel-nesting");
  NodeProcess node(dir / "node", {noRendering(dir.path())});
  SyntheticSeries s;
  s.rows = s.cols = 8;
  s.slices = 1;
  auto written = writeSyntheticSeries(s, dir / "base");
  const std::string base = readBytes(written.files.front());
  const std::string sop_uid = sopInstanceUid(written.files.front());
  int crashed_at = 0;
  std::string answers;
  for (int depth : {500, 2000, 5000, 20000}) {
    std::string bytes = base;
    nestRaw(bytes, depth);
    RawAssociation raw;
    ASSERT_TRUE(raw.open(node.dicomPort(), kCtImage, kExplicitLittle)) << raw.lastError();
    int status = raw.store(kCtImage, sop_uid, bytes.substr(datasetOffset(bytes)));
    raw.release();
    answers += " depth " + std::to_string(depth) + ": " + std::to_string(status) + ";";
    std::this_thread::sleep_for(200ms);
    if (!node.running()) {
      crashed_at = depth;
      break;
    }
    EXPECT_GE(status, 0) << "no DIMSE answer at depth " << depth << ": " << raw.lastError();
    // Deeper than the guarded reader's limit (64 levels): refused at C-STORE, never stored.
    EXPECT_NE(status, 0) << "a data set nested " << depth << " deep was stored";
    EXPECT_TRUE(echo(node).has_value()) << "no C-ECHO after depth " << depth;
  }
  RecordProperty("answers", answers);
  if (crashed_at) {
    const int exit_code = node.stop();
    FAIL() << "one C-STORE whose dataset nests sequences " << crashed_at << " deep killed the node (exit "
           << exit_code << ", answers so far:" << answers << ")";
  }
  node.kill9();
}

TEST(MalformedDicom, EveryCaseIsAnsweredStoredCasesAreRefusedWithAReasonAndTheNodeSurvives) {
  TempDir dir("volnode-rel-malformed");
  auto corpus_dir = dir / "corpus";
  auto cases = buildCorpus(corpus_dir);
  // Small, fast renders in case a defect slips through to the renderer.
  NodeProcess node(dir / "node", {"completion.quiet_s=2", "render.size=64", "render.spin_frames=2",
                                  "dicom.dimse_timeout_s=10"});
  const auto var = storageDir(node);
  const auto files_before = filesOutsideStore(dir.path(), var, corpus_dir);
  const auto evil_before = evilFilesInTmp();

  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    send(node, c, dir.path());
    ASSERT_TRUE(node.running()) << "the node died on case " << c.name << "\n" << node.log();
    auto elapsed = echo(node);
    ASSERT_TRUE(elapsed.has_value()) << "the node does not answer C-ECHO after case " << c.name;
    EXPECT_LT(elapsed->count(), 3000) << "the node is slow to answer after case " << c.name;
    for (size_t i = 0; i < c.answers.size(); ++i)
      EXPECT_EQ(c.answers[i].find("no answer"), std::string::npos)
          << c.files[i].path.filename() << " got no DIMSE answer: " << c.answers[i];
    if (c.expect_refused_at_store) {
      EXPECT_EQ(c.stored, 0) << "a hostile UID was accepted";
    }
  }

  // Stored cases end refused (or failed) with a reason: completion 2 s, then routing/render.
  std::map<std::string, nlohmann::json> final_series;
  for (const auto& c : cases) {
    if (c.stored == 0 || c.series_uid.empty()) continue;
    nlohmann::json series;
    bool settled = waitFor(
        [&] {
          series = apiJson(node, "/api/series/" + c.series_uid);
          if (!series.is_object()) return false;
          auto state = series.value("state", "");
          return state == "refused" || state == "failed" || state == "done";
        },
        60s, 250ms);
    final_series[c.name] = series;
    EXPECT_TRUE(settled) << c.name << ": series never settled, last state: " << series.dump();
    if (!settled) continue;
    const std::string state = series.value("state", "");
    EXPECT_TRUE(state == "refused" || state == "failed") << c.name << ": rendered although malformed";
    EXPECT_FALSE(series.value("state_reason", "").empty()) << c.name << ": no reason given";
  }
  // The hostile text comes back exactly as sent, as JSON text (escaping is the page's job).
  for (const auto& c : cases)
    if (c.name == "script-in-series-description" && final_series.count(c.name)) {
      EXPECT_EQ(final_series[c.name].value("SeriesDescription", ""), "<script>alert(1)</script>");
    }

  ASSERT_TRUE(node.running()) << node.log();
  EXPECT_TRUE(echo(node).has_value());
  EXPECT_EQ(apiJson(node, "/api/health").value("status", ""), "ok");
  // Nothing written outside the store, whatever the UIDs said.
  EXPECT_EQ(filesOutsideStore(dir.path(), var, corpus_dir), files_before);
  EXPECT_EQ(evilFilesInTmp(), evil_before);

  // What happened to each case, for the report.
  for (const auto& c : cases) {
    std::set<std::string> distinct(c.answers.begin(), c.answers.end());
    std::string answers;
    for (const auto& a : distinct) answers += (answers.empty() ? "" : ", ") + a;
    std::string outcome = answers;
    if (final_series.count(c.name))
      outcome += " -> " + final_series[c.name].value("state", "") + ": " + final_series[c.name].value("state_reason", "");
    std::cout << "[malformed] " << c.name << ": " << outcome << "\n";
    RecordProperty(c.name, outcome);
  }
  node.kill9();  // a clean stop is not under test; it costs seconds
}
