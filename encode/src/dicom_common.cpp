#include "dicom_common.hpp"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvr.h>

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <system_error>

#include "volnode/core/error.hpp"
#include "volnode/core/ids.hpp"

namespace volnode::encode_detail {

void check(const OFCondition& status, const char* what) {
  if (status.bad()) throw Error(Errc::Internal, std::string("DICOM encoder: cannot set ") + what + ": " + status.text());
}

void checkUid(const std::string& uid, const char* what) {
  bool ok = !uid.empty() && uid.size() <= 64 && uid.front() != '.' && uid.back() != '.';
  for (size_t i = 0; ok && i < uid.size(); ++i) {
    const char c = uid[i];
    if (c == '.') {
      ok = uid[i - 1] != '.';
      continue;
    }
    ok = std::isdigit(static_cast<unsigned char>(c)) &&
         !(c == '0' && (i == 0 || uid[i - 1] == '.') && i + 1 < uid.size() && uid[i + 1] != '.');
  }
  if (!ok) throw Error(Errc::InvalidArgument, std::string("invalid ") + what + " '" + uid + "' (PS3.5 9.1)");
}

void checkPlan(const ObjectPlan& plan) {
  checkUid(plan.series_instance_uid, "SeriesInstanceUID");
  checkUid(plan.sop_instance_uid, "SOPInstanceUID");
  if (plan.series_number < 0 || plan.instance_number < 0)
    throw Error(Errc::InvalidArgument, "negative series or instance number in an output plan");
  if (!plan.created.empty()) {
    bool digits = plan.created.size() == 14;
    for (char c : plan.created) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (!digits) throw Error(Errc::InvalidArgument, "plan.created must be YYYYMMDDHHMMSS, got '" + plan.created + "'");
  }
}

std::string safeText(const OutputIdentity& identity, const std::string& text, size_t max_bytes) {
  const bool utf8 = identity.element(0x0008, 0x0005).value.find("ISO_IR 192") != std::string::npos;
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t n = 1;
    if (c >= 0x80) n = (c >= 0xF0) ? 4 : (c >= 0xE0) ? 3 : (c >= 0xC0) ? 2 : 1;
    n = std::min(n, text.size() - i);
    std::string piece = text.substr(i, n);
    if (c >= 0x80 && !utf8) piece = "?";
    if (c == '\\') piece = "/";
    if (c < 0x20) piece = " ";
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += n;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

void putIdentity(DcmDataset& d, const OutputIdentity& identity) {
  for (const CopiedElement& c : identity.copied()) {
    const DcmTagKey key(c.group, c.element);
    const bool optional = key == DCM_SpecificCharacterSet || key == DCM_IssuerOfPatientID || key == DCM_StudyDescription;
    if (!c.present && optional) continue;
    DcmTag tag(key);
    if (c.present) tag.setVR(DcmVR(c.vr.c_str()));
    DcmElement* element = DcmItem::newDicomElement(tag);
    if (element == nullptr) throw Error(Errc::Internal, "DICOM encoder: no element for " + std::string(tag.getTagName()));
    if (!c.value.empty()) check(element->putString(c.value.data(), Uint32(c.value.size())), tag.getTagName());
    check(d.insert(element, true), tag.getTagName());
  }
}

namespace {

std::string nowStamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

}  // namespace

void putSeriesAndInstance(DcmDataset& d, const OutputIdentity& identity, const ObjectPlan& plan,
                          const char* sop_class_uid, const std::string& modality) {
  const std::string created = plan.created.empty() ? nowStamp() : plan.created;
  const std::string date = created.substr(0, 8), time = created.substr(8, 6);
  check(d.putAndInsertString(DCM_SOPClassUID, sop_class_uid), "SOPClassUID");
  check(d.putAndInsertString(DCM_SOPInstanceUID, plan.sop_instance_uid.c_str()), "SOPInstanceUID");
  check(d.putAndInsertString(DCM_InstanceCreationDate, date.c_str()), "InstanceCreationDate");
  check(d.putAndInsertString(DCM_InstanceCreationTime, time.c_str()), "InstanceCreationTime");
  check(d.putAndInsertString(DCM_Modality, modality.c_str()), "Modality");
  check(d.putAndInsertString(DCM_SeriesInstanceUID, plan.series_instance_uid.c_str()), "SeriesInstanceUID");
  check(d.putAndInsertString(DCM_SeriesNumber, std::to_string(plan.series_number).c_str()), "SeriesNumber");
  check(d.putAndInsertString(DCM_SeriesDate, date.c_str()), "SeriesDate");
  check(d.putAndInsertString(DCM_SeriesTime, time.c_str()), "SeriesTime");
  const std::string description = safeText(identity, plan.series_description, 64);
  if (!description.empty()) check(d.putAndInsertString(DCM_SeriesDescription, description.c_str()), "SeriesDescription");
  if (!identity.bodyPartExamined().empty())
    check(d.putAndInsertString(DCM_BodyPartExamined, identity.bodyPartExamined().substr(0, 16).c_str()),
          "BodyPartExamined");
  if (identity.laterality().present)
    check(d.putAndInsertString(DCM_Laterality, identity.laterality().value.c_str()), "Laterality");
  check(d.putAndInsertString(DCM_InstanceNumber, std::to_string(plan.instance_number).c_str()), "InstanceNumber");
  check(d.putAndInsertString(DCM_ContentDate, date.c_str()), "ContentDate");
  check(d.putAndInsertString(DCM_ContentTime, time.c_str()), "ContentTime");
}

void addCode(DcmItem& item, const DcmTagKey& sequence, const char* value, const char* scheme, const char* meaning) {
  DcmItem* code = nullptr;
  check(item.findOrCreateSequenceItem(sequence, code, -2), "code sequence item");
  check(code->putAndInsertString(DCM_CodeValue, value), "CodeValue");
  check(code->putAndInsertString(DCM_CodingSchemeDesignator, scheme), "CodingSchemeDesignator");
  check(code->putAndInsertString(DCM_CodeMeaning, meaning), "CodeMeaning");
}

void addCode(DcmDataset& d, const DcmTagKey& sequence, const char* value, const char* scheme, const char* meaning) {
  addCode(static_cast<DcmItem&>(d), sequence, value, scheme, meaning);
}

void putSourceImages(DcmDataset& d, std::span<const SourceInstance> sources) {
  for (const SourceInstance& s : sources) {
    DcmItem* item = nullptr;
    check(d.findOrCreateSequenceItem(DCM_SourceImageSequence, item, -2), "SourceImageSequence");
    check(item->putAndInsertString(DCM_ReferencedSOPClassUID, s.sop_class_uid.c_str()), "ReferencedSOPClassUID");
    check(item->putAndInsertString(DCM_ReferencedSOPInstanceUID, s.sop_instance_uid.c_str()), "ReferencedSOPInstanceUID");
    addCode(*item, DCM_PurposeOfReferenceCodeSequence, "121322", "DCM", "Source image for image processing operation");
  }
}

void putReferencedSeries(DcmDataset& d, const OutputIdentity& identity, std::span<const SourceInstance> sources) {
  if (sources.empty()) return;
  DcmItem* series = nullptr;
  check(d.findOrCreateSequenceItem(DCM_ReferencedSeriesSequence, series, -2), "ReferencedSeriesSequence");
  check(series->putAndInsertString(DCM_SeriesInstanceUID, identity.sourceSeriesInstanceUid().c_str()),
        "ReferencedSeriesSequence SeriesInstanceUID");
  for (const SourceInstance& s : sources) {
    DcmItem* instance = nullptr;
    check(series->findOrCreateSequenceItem(DCM_ReferencedInstanceSequence, instance, -2), "ReferencedInstanceSequence");
    check(instance->putAndInsertString(DCM_ReferencedSOPClassUID, s.sop_class_uid.c_str()), "ReferencedSOPClassUID");
    check(instance->putAndInsertString(DCM_ReferencedSOPInstanceUID, s.sop_instance_uid.c_str()),
          "ReferencedSOPInstanceUID");
  }
}

void putReferencedSeries(DcmDataset& d, const OutputIdentity& identity) {
  putReferencedSeries(d, identity, identity.sourceInstances());
}

namespace {

// Appends (7FE0,0010) OW with the words' bytes, as DCMTK writes it in Explicit VR
// Little Endian: tag, "OW", two reserved bytes, 32-bit length, value.
bool appendPixelData(const std::filesystem::path& file, std::span<const int16_t> words) {
  const uint32_t length = uint32_t(words.size_bytes());
  const unsigned char header[12] = {0xE0, 0x7F, 0x10, 0x00, 'O', 'W', 0, 0, uint8_t(length), uint8_t(length >> 8),
                                    uint8_t(length >> 16), uint8_t(length >> 24)};
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return false;
  iovec parts[2] = {{const_cast<unsigned char*>(header), sizeof header},
                    {const_cast<int16_t*>(words.data()), words.size_bytes()}};
  size_t left = sizeof header + words.size_bytes();
  bool ok = true;
  while (ok && left > 0) {
    const ssize_t n = ::writev(fd, parts, 2);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (!ok) break;
    left -= size_t(n);
    size_t written = size_t(n);
    for (iovec& part : parts) {  // skip what was written
      const size_t done = std::min(part.iov_len, written);
      part.iov_base = static_cast<char*>(part.iov_base) + done;
      part.iov_len -= done;
      written -= done;
    }
  }
  return ::close(fd) == 0 && ok;
}

}  // namespace

bool canAppendPixelData() { return gLocalByteOrder == EBO_LittleEndian; }

uintmax_t saveFile(DcmFileFormat& file, const std::filesystem::path& path, std::span<const int16_t> pixel_data) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) throw Error(Errc::Io, "cannot create " + path.parent_path().string() + ": " + ec.message());
  if (!pixel_data.empty()) {
    if (!canAppendPixelData())
      throw Error(Errc::Internal, "DICOM encoder: pixel data is appended only on little-endian machines");
    DcmDataset& d = *file.getDataset();
    if (d.card() > 0 && !(d.getElement(d.card() - 1)->getTag() < DCM_PixelData))
      throw Error(Errc::Internal, "DICOM encoder: pixel data to append, but the dataset has PixelData or more after it");
  }
  const std::filesystem::path tmp = path.string() + ".tmp";
  OFCondition status = file.saveFile(tmp.c_str(), EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_recalcGL,
                                     EPD_noChange, 0, 0, EWM_createNewMeta);
  if (status.good() && !pixel_data.empty() && !appendPixelData(tmp, pixel_data))
    status = makeOFCondition(0, 1, OF_error, std::strerror(errno));
  if (status.bad()) {
    std::filesystem::remove(tmp, ec);
    throw Error(Errc::Io, "cannot write " + path.string() + ": " + status.text());
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error(Errc::Io, "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
  return std::filesystem::file_size(path);
}

std::string slug(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c)) {
      out += char(std::tolower(c));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > 48) out.resize(48);
  return out.empty() ? "object" : out;
}

EncodedObject saveObject(DcmFileFormat& file, const OutputIdentity& identity, const ObjectPlan& plan,
                         const std::string& sop_class_uid, int frames, const std::filesystem::path& out_dir,
                         std::span<const int16_t> pixel_data) {
  EncodedObject out;
  out.path = out_dir / fileNameFor(plan);
  out.size_bytes = saveFile(file, out.path, pixel_data);
  out.sop_class_uid = sop_class_uid;
  out.sop_instance_uid = plan.sop_instance_uid;
  out.series_instance_uid = plan.series_instance_uid;
  out.series_description = safeText(identity, plan.series_description, 64);
  out.frames = frames;
  return out;
}

std::string fileNameFor(const ObjectPlan& plan) {
  return std::to_string(plan.series_number) + "-" + std::to_string(plan.instance_number) + "-" +
         slug(plan.series_description) + ".dcm";
}

std::string formatDs(double value) {
  char buf[32];
  for (int precision = 10; precision > 1; --precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    if (std::string(buf).size() <= 16) break;
  }
  return buf;
}

}  // namespace volnode::encode_detail

namespace volnode {

ObjectPlan planObject(const std::string& uid_root, int series_number, const std::string& series_description) {
  ObjectPlan plan;
  plan.series_instance_uid = newDicomUid(uid_root);
  plan.sop_instance_uid = newDicomUid(uid_root);
  plan.series_number = series_number;
  plan.series_description = series_description;
  plan.created = encode_detail::nowStamp();
  return plan;
}

std::vector<ObjectPlan> planSeries(const std::string& uid_root, int series_number,
                                   const std::string& series_description, int count) {
  std::vector<ObjectPlan> plans;
  const ObjectPlan first = planObject(uid_root, series_number, series_description);
  for (int i = 0; i < count; ++i) {
    ObjectPlan p = first;
    if (i > 0) p.sop_instance_uid = newDicomUid(uid_root);
    p.instance_number = i + 1;
    plans.push_back(std::move(p));
  }
  return plans;
}

}  // namespace volnode
