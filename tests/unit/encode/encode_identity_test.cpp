// Patient safety: derived objects carry exactly the source's patient and study
// attributes, and two series encoded at once never exchange them.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "encode_test_support.hpp"

namespace volnode::test {
namespace {

void expectIdentityCopied(const std::filesystem::path& source, const std::filesystem::path& output) {
  for (const DcmTagKey& key : identityTags()) {
    bool in_source = false, in_output = false;
    const std::string a = rawValue(source, key, &in_source), b = rawValue(output, key, &in_output);
    EXPECT_EQ(a, b) << DcmTag(key).getTagName() << " in " << output;
    if (in_source) {
      EXPECT_TRUE(in_output) << DcmTag(key).getTagName() << " missing in " << output;
    }
  }
}

TEST(OutputIdentity, Latin1PatientAndStudyAttributesAreCopiedByteForByte) {
  TempDir tmp("encode-latin1");
  const SourcePatient patient;  // ISO_IR 100, "Müller^Jürgen" in Latin-1
  const auto source = writeSource(tmp / "src", patient);
  const OutputIdentity identity = readOutputIdentity(source.files);
  EXPECT_EQ(identity.element(0x0010, 0x0010).value, patient.patient_name);
  EXPECT_EQ(identity.sourceInstances().size(), source.files.size());

  const auto spin = encodeSpin(identity, planObject("", 9001, "3D VR Bone spin"), makeFrames(2, 16, 16, 3),
                               FramesInfo{}, tmp / "out");
  expectIdentityCopied(source.files.front(), spin.path);
  EXPECT_EQ(rawValue(spin.path, DCM_PatientName), "M\xFCller^J\xFCrgen");
  EXPECT_EQ(rawValue(spin.path, DCM_SpecificCharacterSet), "ISO_IR 100");
  // dcmdump converts with the declared character set: the name reads correctly in UTF-8.
  const auto dump = run({"dcmdump", "+U8", "+P", "0010,0010", spin.path.string()});
  EXPECT_NE(dump.output.find("M\xC3\xBCller^J\xC3\xBCrgen"), std::string::npos) << dump.output;
}

TEST(OutputIdentity, Utf8PatientNameIsCopiedByteForByte) {
  TempDir tmp("encode-utf8");
  SourcePatient patient;
  patient.charset = "ISO_IR 192";
  patient.patient_name = "\xE5\xB1\xB1\xE7\x94\xB0^\xE5\xA4\xAA\xE9\x83\x8E";  // 山田^太郎
  patient.referring = "Sch\xC3\xB6n^Anna";
  patient.study_description = "CT Sch\xC3\xA4" "del";
  const auto source = writeSource(tmp / "src", patient);
  const OutputIdentity identity = readOutputIdentity(source.files.front());
  const auto spin = encodeSpin(identity, planObject("", 9001, "3D VR Bone spin \xC3\xA9"), makeFrames(2, 16, 16, 3),
                               FramesInfo{}, tmp / "out");
  expectIdentityCopied(source.files.front(), spin.path);
  // UTF-8 source: a UTF-8 description is kept as is.
  EXPECT_EQ(rawValue(spin.path, DCM_SeriesDescription), "3D VR Bone spin \xC3\xA9");
  expectValid(spin.path);
}

TEST(OutputIdentity, NonAsciiDescriptionIsNotWrittenInTheWrongCharacterSet) {
  TempDir tmp("encode-latin-desc");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  const OutputIdentity identity = readOutputIdentity(source.files.front());
  const auto spin = encodeSpin(identity, planObject("", 9001, "spin \xC3\xA9t\xC3\xA9"), makeFrames(2, 16, 16, 3),
                               FramesInfo{}, tmp / "out");
  EXPECT_EQ(rawValue(spin.path, DCM_SeriesDescription), "spin ?t?");
}

TEST(OutputIdentity, AbsentType2AttributesAreWrittenEmptyNotInvented) {
  TempDir tmp("encode-absent");
  SyntheticSeries s;  // no accession number, birth date, sex, referring physician, study ID
  s.rows = s.cols = 16;
  s.slices = 3;
  const auto source = writeSyntheticSeries(s, tmp / "src");
  const OutputIdentity identity = readOutputIdentity(source.files.front());
  const auto spin = encodeSpin(identity, planObject("", 9001, "3D VR spin"), makeFrames(2, 16, 16, 3), FramesInfo{},
                               tmp / "out");
  bool present = false;
  EXPECT_EQ(rawValue(spin.path, DCM_AccessionNumber, &present), "");
  EXPECT_TRUE(present);
  rawValue(spin.path, DCM_SpecificCharacterSet, &present);
  EXPECT_FALSE(present);
  expectValid(spin.path);
  expectIdentityCopied(source.files.front(), spin.path);
}

TEST(OutputIdentity, RefusesFilesOfDifferentSeries) {
  TempDir tmp("encode-mixed");
  const auto a = writeSource(tmp / "a", SourcePatient{});
  SourcePatient other;
  other.patient_id = "PID-0002";
  const auto b = writeSource(tmp / "b", other);
  EXPECT_THROW(readOutputIdentity(std::vector<std::filesystem::path>{a.files[0], b.files[0]}), Error);
}

TEST(OutputIdentity, TwoPatientsEncodedConcurrentlyNeverMixIdentifiers) {
  TempDir tmp("encode-threads");
  SourcePatient p1, p2;
  p2.patient_id = "OTHER-777";
  p2.patient_name = "Andersson^Bj\xF6rn";
  p2.accession = "ACC999";
  p2.birth_date = "19851231";
  p2.sex = "F";
  p2.study_id = "ST2";
  const auto s1 = writeSource(tmp / "s1", p1), s2 = writeSource(tmp / "s2", p2);
  std::vector<std::filesystem::path> out1, out2;
  auto worker = [&](const WrittenSeries& source, const std::string& name, std::vector<std::filesystem::path>& out) {
    const OutputIdentity identity = readOutputIdentity(source.files);
    for (int i = 0; i < 10; ++i) {
      out.push_back(encodeSpin(identity, planObject("", 9001 + i, "3D VR spin"), makeFrames(3, 24, 24, 3),
                               FramesInfo{}, tmp / name)
                        .path);
      out.push_back(encodeSpin(identity, planObject("", 9101 + i, "3D MIP spin"), makeFrames(3, 24, 24, 1),
                               FramesInfo{}, tmp / name)
                        .path);
    }
  };
  std::thread t1(worker, std::cref(s1), "o1", std::ref(out1));
  std::thread t2(worker, std::cref(s2), "o2", std::ref(out2));
  t1.join();
  t2.join();
  ASSERT_EQ(out1.size(), 20u);
  ASSERT_EQ(out2.size(), 20u);
  for (const auto& f : out1) {
    expectIdentityCopied(s1.files.front(), f);
    EXPECT_EQ(stringValue(f, DCM_PatientID), "PID-0001");
  }
  for (const auto& f : out2) {
    expectIdentityCopied(s2.files.front(), f);
    EXPECT_EQ(stringValue(f, DCM_PatientID), "OTHER-777");
    EXPECT_EQ(stringValue(f, DCM_StudyInstanceUID), s2.study_instance_uid);
  }
  std::vector<std::filesystem::path> all = s1.files;
  all.insert(all.end(), out1.begin(), out1.end());
  std::string output;
  EXPECT_TRUE(dcentvfyErrors(all, &output).empty()) << output;
}

}  // namespace
}  // namespace volnode::test
