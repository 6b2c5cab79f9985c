#include "slot_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>

namespace volnode {

SlotWriter::~SlotWriter() {
  if (fd_ >= 0) ::close(fd_);
}

bool SlotWriter::open(const std::string& path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd_ < 0) error_ = errno;
  return fd_ >= 0;
}

bool SlotWriter::finish(std::string* problem) {
  drain();
  if (fd_ >= 0 && ::close(fd_) != 0 && error_ == 0) error_ = errno;
  fd_ = -1;
  if (error_ != 0) *problem = std::strerror(error_);
  return error_ == 0;
}

std::string SlotWriter::problem() const { return std::strerror(error_); }

void SlotWriter::countInto(TransferWatch& watch, TransferWatch::Id id) {
  watch_ = &watch;
  watch_id_ = id;
}

offile_off_t SlotWriter::write(const void* data, offile_off_t length) {
  auto bytes = static_cast<const char*>(data);
  auto size = static_cast<size_t>(length);
  if (watch_) watch_->received(watch_id_, static_cast<int64_t>(size));
  taken_ += size;
  if (overLimit()) return length;  // dropped: the instance is refused once it has all arrived
  if (size >= buffer_.size() / 2) {
    drain();           // what came before goes first
    put(bytes, size);  // a network fragment: straight to the file
  } else {
    if (size > buffer_.size() - used_) drain();
    std::memcpy(buffer_.data() + used_, bytes, size);
    used_ += size;
  }
  return length;  // taken, even when it could not be written
}

void SlotWriter::drain() {
  if (used_ > 0) put(buffer_.data(), used_);
  used_ = 0;
}

void SlotWriter::put(const char* data, size_t length) {
  while (length > 0 && error_ == 0 && fd_ >= 0) {
    ssize_t n = ::write(fd_, data, length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = n < 0 ? errno : EIO;
      return;
    }
    data += n;
    length -= static_cast<size_t>(n);
  }
}

OFCondition writeMetaHeader(DcmOutputStream& out, const char* sop_class_uid, const char* sop_instance_uid,
                            const char* transfer_syntax, const char* calling_aet) {
  DcmMetaInfo meta;
  const Uint8 version[2] = {0, 1};
  OFCondition cond = meta.putAndInsertUint32(DCM_FileMetaInformationGroupLength, 0);
  if (cond.good()) cond = meta.putAndInsertUint8Array(DCM_FileMetaInformationVersion, version, 2);
  if (cond.good()) cond = meta.putAndInsertString(DCM_MediaStorageSOPClassUID, sop_class_uid);
  if (cond.good()) cond = meta.putAndInsertString(DCM_MediaStorageSOPInstanceUID, sop_instance_uid);
  if (cond.good()) cond = meta.putAndInsertString(DCM_TransferSyntaxUID, transfer_syntax);
  if (cond.good()) cond = meta.putAndInsertString(DCM_ImplementationClassUID, OFFIS_IMPLEMENTATION_CLASS_UID);
  if (cond.good())
    cond = meta.putAndInsertString(DCM_ImplementationVersionName, OFFIS_DTK_IMPLEMENTATION_VERSION_NAME2);
  if (cond.good()) cond = meta.putAndInsertString(DCM_SourceApplicationEntityTitle, calling_aet);
  if (cond.good())
    cond = meta.computeGroupLengthAndPadding(EGL_withGL, EPD_noChange, META_HEADER_DEFAULT_TRANSFERSYNTAX,
                                             EET_UndefinedLength);
  if (cond.bad()) return cond;
  meta.transferInit();
  cond = meta.write(out, META_HEADER_DEFAULT_TRANSFERSYNTAX, EET_ExplicitLength, nullptr);
  meta.transferEnd();
  return cond;
}

}  // namespace volnode
