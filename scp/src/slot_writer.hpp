#pragma once
// Internal to volnode_scp: writing one received instance into its slot file, as
// DCMTK's own C-STORE receiver would: the File Meta Information, then the data
// set exactly as it came off the wire (bit-preserving).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <dcmtk/dcmdata/dcostrma.h>

#include "volnode/scp/transfer_watch.hpp"

namespace volnode {

// Receives the bytes of one dataset into the slot file. It never reports a failure
// to DCMTK: after a write error (disk full) it keeps taking the rest of the dataset
// off the wire and drops it, so the P-DATA stream stays in step whatever DCMTK does
// with a failed write, and the C-STORE can be answered with a status. A writer
// without a file takes every byte and keeps none.
class SlotWriter : public DcmConsumer {
 public:
  // `buffer` gathers small writes (the meta header); it outlives the writer and is reused.
  explicit SlotWriter(std::vector<char>& buffer) : buffer_(buffer) {}
  ~SlotWriter() override;
  SlotWriter(const SlotWriter&) = delete;
  SlotWriter& operator=(const SlotWriter&) = delete;

  // Opens an existing slot file for writing, from its start; false (see problem()) when it cannot.
  bool open(const std::string& path);
  // Writes what is buffered and closes the file; false (with the reason) when any write failed.
  bool finish(std::string* problem);
  std::string problem() const;
  // Reports each piece of the data set to the watch, which cuts a peer sending too slowly.
  void countInto(TransferWatch& watch, TransferWatch::Id id);
  // Stops writing once more than `max_bytes` arrived (0: no limit); the rest is taken off
  // the wire and dropped, so the C-STORE can be refused and the association goes on.
  void limitTo(uint64_t max_bytes) { limit_ = max_bytes; }
  bool overLimit() const { return limit_ > 0 && taken_ > limit_; }
  uint64_t bytesTaken() const { return taken_; }

  OFBool good() const override { return OFTrue; }
  OFCondition status() const override { return EC_Normal; }
  OFBool isFlushed() const override { return used_ == 0; }
  offile_off_t avail() const override { return offile_off_t(1) << 30; }
  offile_off_t write(const void* data, offile_off_t length) override;
  void flush() override { drain(); }

 private:
  void drain();
  void put(const char* data, size_t length);

  int fd_ = -1;
  int error_ = 0;
  std::vector<char>& buffer_;
  size_t used_ = 0;
  TransferWatch* watch_ = nullptr;
  TransferWatch::Id watch_id_ = 0;
  uint64_t limit_ = 0;
  uint64_t taken_ = 0;  // bytes handed to the writer (meta header included)
};

// DcmOutputStream's constructor is protected; this one writes to a SlotWriter.
class SlotStream : public DcmOutputStream {
 public:
  explicit SlotStream(DcmConsumer* consumer) : DcmOutputStream(consumer) {}
};

// The File Meta Information DCMTK's own C-STORE receiver writes before the dataset
// (group length, version, SOP class and instance of the C-STORE request, the
// accepted transfer syntax, DCMTK's implementation UID and the caller's AE title).
OFCondition writeMetaHeader(DcmOutputStream& out, const char* sop_class_uid, const char* sop_instance_uid,
                            const char* transfer_syntax, const char* calling_aet);

}  // namespace volnode
