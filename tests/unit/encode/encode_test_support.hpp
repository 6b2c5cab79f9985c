#pragma once
// Helpers for the encode tests: source series with full patient/study
// attributes (incl. a character set), hand-made frames, and the validators
// (dciodvfy, dcentvfy, dcmdump, dcm2pnm) run as child processes.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/dicom_files.hpp"
#include "support/process.hpp"
#include "volnode/core/error.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/encode/encode.hpp"

namespace volnode::test {

struct SourcePatient {
  std::string charset = "ISO_IR 100";
  std::string patient_name = "M\xFCller^J\xFCrgen";  // Latin-1 bytes
  std::string patient_id = "PID-0001";
  std::string accession = "ACC12345";
  std::string birth_date = "19700101";
  std::string sex = "M";
  std::string referring = "Sch\xF6n^Anna";
  std::string study_id = "ST1";
  std::string study_description = "CT Sch\xE4" "del";
  std::string issuer = "HOSP";
};

// A small CT series, then the patient/study attributes set with raw bytes in
// the given character set (the synthetic generator cannot set a character set).
inline WrittenSeries writeSource(const std::filesystem::path& dir, const SourcePatient& p, int slices = 4) {
  SyntheticSeries s;
  s.rows = s.cols = 16;
  s.slices = slices;
  s.patient_id = p.patient_id;
  WrittenSeries w = writeSyntheticSeries(s, dir);
  for (const auto& f : w.files) {
    DcmFileFormat file;
    if (file.loadFile(f.c_str()).bad()) throw std::runtime_error("cannot reload " + f.string());
    DcmDataset* d = file.getDataset();
    d->putAndInsertString(DCM_SpecificCharacterSet, p.charset.c_str());
    d->putAndInsertString(DCM_PatientName, p.patient_name.c_str());
    d->putAndInsertString(DCM_IssuerOfPatientID, p.issuer.c_str());
    d->putAndInsertString(DCM_PatientBirthDate, p.birth_date.c_str());
    d->putAndInsertString(DCM_PatientSex, p.sex.c_str());
    d->putAndInsertString(DCM_AccessionNumber, p.accession.c_str());
    d->putAndInsertString(DCM_ReferringPhysicianName, p.referring.c_str());
    d->putAndInsertString(DCM_StudyID, p.study_id.c_str());
    d->putAndInsertString(DCM_StudyDescription, p.study_description.c_str());
    d->putAndInsertString(DCM_PositionReferenceIndicator, "");
    d->putAndInsertString(DCM_Manufacturer, "SYNTH");
    if (file.saveFile(f.c_str(), EXS_LittleEndianExplicit).bad()) throw std::runtime_error("cannot save " + f.string());
  }
  return w;
}

// Frames with a deterministic pattern that differs per frame.
inline std::vector<RenderedFrame> makeFrames(int count, int width, int height, int channels, double angle_step = 10,
                                             bool identifiers = false, const std::string& prefix = "spin-") {
  std::vector<RenderedFrame> frames;
  for (int n = 0; n < count; ++n) {
    RenderedFrame f;
    char name[32];
    std::snprintf(name, sizeof name, "%s%03d", prefix.c_str(), n);
    f.view = name;
    f.angle_deg = n * angle_step;
    f.width = width;
    f.height = height;
    f.channels = channels;
    f.identifiers_drawn = identifiers;
    f.pixels.resize(size_t(width) * height * channels);
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x)
        for (int c = 0; c < channels; ++c)
          f.pixels[(size_t(y) * width + x) * channels + c] = uint8_t((x * 3 + y * 5 + c * 70 + n * 13) & 0xFF);
    frames.push_back(std::move(f));
  }
  return frames;
}

// Lines of a validator's output that contain `word` ("Error", "Warning").
inline std::vector<std::string> linesWith(const std::string& output, const std::string& word) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);)
    if (line.find(word) != std::string::npos) lines.push_back(line);
  return lines;
}

inline std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// dciodvfy's Error lines for one file (empty: valid).
inline std::vector<std::string> dciodvfyErrors(const std::filesystem::path& file, std::string* full_output = nullptr) {
  const RunResult r = run({"dciodvfy", file.string()}, std::chrono::seconds(60));
  if (full_output) *full_output = r.output;
  return linesWith(r.output, "Error");
}

inline void expectValid(const std::filesystem::path& file) {
  std::string output;
  const auto errors = dciodvfyErrors(file, &output);
  EXPECT_TRUE(errors.empty()) << file << "\n" << output;
  // VOLNODE_ENCODE_TEST_VERBOSE=1 shows dciodvfy's warnings too.
  if (std::getenv("VOLNODE_ENCODE_TEST_VERBOSE")) std::cout << "dciodvfy " << file.filename() << ":\n" << output;
}

// dcentvfy over source and outputs: its Error lines.
inline std::vector<std::string> dcentvfyErrors(const std::vector<std::filesystem::path>& files,
                                               std::string* full_output = nullptr) {
  std::vector<std::string> argv{"dcentvfy"};
  for (const auto& f : files) argv.push_back(f.string());
  const RunResult r = run(argv, std::chrono::seconds(60));
  if (full_output) *full_output = r.output;
  return linesWith(r.output, "Error");
}

// Raw value bytes of an element as DCMTK holds them ("" when absent).
inline std::string rawValue(const std::filesystem::path& file, const DcmTagKey& key, bool* present = nullptr) {
  DcmFileFormat f;
  if (f.loadFile(file.c_str()).bad()) throw std::runtime_error("cannot load " + file.string());
  DcmElement* e = nullptr;
  if (present) *present = false;
  if (f.getDataset()->findAndGetElement(key, e).bad() || e == nullptr) return {};
  if (present) *present = true;
  char* v = nullptr;
  Uint32 len = 0;
  if (e->getLength() == 0 || e->getString(v, len).bad() || v == nullptr) return {};
  return std::string(v, len);
}

inline std::string stringValue(const std::filesystem::path& file, const DcmTagKey& key) {
  DcmFileFormat f;
  if (f.loadFile(file.c_str()).bad()) throw std::runtime_error("cannot load " + file.string());
  OFString v;
  f.getDataset()->findAndGetOFStringArray(key, v);
  return v.c_str();
}

// The patient/study attributes that must be copied unchanged.
inline std::vector<DcmTagKey> identityTags() {
  return {DCM_PatientName,   DCM_PatientID,   DCM_IssuerOfPatientID,       DCM_PatientBirthDate, DCM_PatientSex,
          DCM_StudyInstanceUID, DCM_StudyDate, DCM_StudyTime,              DCM_AccessionNumber,  DCM_ReferringPhysicianName,
          DCM_StudyID,       DCM_StudyDescription, DCM_SpecificCharacterSet};
}

// A binary PPM/PGM written by dcm2pnm: its pixel bytes.
inline std::vector<uint8_t> readPnm(const std::filesystem::path& file, int* width = nullptr, int* height = nullptr,
                                    int* channels = nullptr) {
  std::ifstream in(file, std::ios::binary);
  std::string magic;
  int w = 0, h = 0, maxval = 0;
  in >> magic >> w >> h >> maxval;
  in.get();
  const int c = magic == "P6" ? 3 : 1;
  std::vector<uint8_t> bytes(size_t(w) * h * c);
  in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(bytes.size()));
  if (width) *width = w;
  if (height) *height = h;
  if (channels) *channels = c;
  return bytes;
}

}  // namespace volnode::test
