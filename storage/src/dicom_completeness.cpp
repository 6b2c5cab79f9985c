#include "dicom_completeness.hpp"

#include <cstdint>
#include <vector>

#include <dcmtk/dcmdata/dcvr.h>
#include <fmt/format.h>

namespace volnode {
namespace {

constexpr uint32_t kUndefinedLength = 0xFFFFFFFF;
constexpr uint16_t kDelimiterGroup = 0xFFFE;
constexpr uint16_t kItem = 0xE000, kItemEnd = 0xE00D, kSequenceEnd = 0xE0DD;

// What the walk is inside of: the data set itself, the items of a sequence (or
// the fragments of a pixel sequence), or one item of undefined length.
enum class Level { Dataset, Sequence, Item };

struct Frame {
  Level level;
  DatasetEncoding encoding;
};

class Walk {
 public:
  explicit Walk(std::string_view bytes) : bytes_(bytes) {}

  DatasetStructure run(DatasetEncoding encoding) {
    std::vector<Frame> open{{Level::Dataset, encoding}};
    while (!open.empty() && result_.incomplete.empty()) {
      const Frame frame = open.back();
      if (frame.level == Level::Sequence) {
        sequenceStep(frame, open);
      } else {
        elementStep(frame, open);
      }
    }
    return result_;
  }

 private:
  size_t left() const { return bytes_.size() - pos_; }

  uint16_t u16(size_t at, bool big) const {
    auto b = [&](size_t i) { return uint16_t(uint8_t(bytes_[at + i])); };
    return big ? uint16_t(b(0) << 8 | b(1)) : uint16_t(b(1) << 8 | b(0));
  }
  uint32_t u32(size_t at, bool big) const {
    uint32_t lo = u16(at, big), hi = u16(at + 2, big);
    return big ? (lo << 16 | hi) : (hi << 16 | lo);
  }

  bool fail(std::string why) {
    result_.incomplete = std::move(why);
    return false;
  }

  // Inside a sequence: items (of defined or undefined length) until the sequence delimiter.
  void sequenceStep(const Frame& frame, std::vector<Frame>& open) {
    const bool big = frame.encoding.big_endian;
    if (left() < 8) {
      fail(fmt::format("the file ends inside a sequence at byte {} (no sequence delimiter)", pos_));
      return;
    }
    const uint16_t group = u16(pos_, big), element = u16(pos_ + 2, big);
    const uint32_t length = u32(pos_ + 4, big);
    if (group != kDelimiterGroup || (element != kItem && element != kSequenceEnd)) {
      fail(fmt::format("unexpected ({:04X},{:04X}) inside a sequence at byte {}", group, element, pos_));
      return;
    }
    pos_ += 8;
    if (element == kSequenceEnd) {
      open.pop_back();
    } else if (length == kUndefinedLength) {
      open.push_back({Level::Item, frame.encoding});
    } else if (length > left()) {
      fail(fmt::format("an item of {} bytes at byte {} is cut short ({} bytes left)", length, pos_ - 8, left()));
    } else {
      pos_ += length;
    }
  }

  // In the data set or an undefined-length item: one element.
  void elementStep(const Frame& frame, std::vector<Frame>& open) {
    const bool big = frame.encoding.big_endian;
    if (left() == 0) {
      if (frame.level == Level::Dataset)
        open.pop_back();  // the whole data set, to its last byte
      else
        fail(fmt::format("the file ends inside an item at byte {} (no item delimiter)", pos_));
      return;
    }
    if (left() < 8) {
      fail(fmt::format("the file ends inside an element header at byte {}", pos_));
      return;
    }
    const size_t start = pos_;
    const uint16_t group = u16(pos_, big), element = u16(pos_ + 2, big);
    if (group == kDelimiterGroup) {
      if (frame.level == Level::Item && element == kItemEnd) {
        pos_ += 8;
        open.pop_back();
      } else {
        fail(fmt::format("unexpected delimiter ({:04X},{:04X}) at byte {}", group, element, pos_));
      }
      return;
    }
    uint32_t length = 0;
    bool unknown_content = false;  // UN of undefined length: its content is implicit VR little endian
    if (frame.encoding.explicit_vr) {
      const char name[3] = {bytes_[pos_ + 4], bytes_[pos_ + 5], '\0'};
      DcmVR vr(name);  // DCMTK's own rule for which VRs have a 32-bit length (unknown ones included)
      if (vr.usesExtendedLengthEncoding()) {
        if (left() < 12) {
          fail(fmt::format("the file ends inside an element header at byte {}", pos_));
          return;
        }
        length = u32(pos_ + 8, big);
        pos_ += 12;
      } else {
        length = u16(pos_ + 6, big);
        pos_ += 8;
      }
      unknown_content = vr.getEVR() == EVR_UN;
    } else {
      length = u32(pos_ + 4, big);
      pos_ += 8;
    }
    if (open.size() == 1 && group == 0x7FE0 && (element == 0x0008 || element == 0x0009 || element == 0x0010))
      result_.pixel_data = true;
    if (length == kUndefinedLength) {
      // A sequence, a pixel sequence (encapsulated Pixel Data), or UN holding a sequence.
      DatasetEncoding inner = frame.encoding;
      if (unknown_content) inner = {false, false};
      open.push_back({Level::Sequence, inner});
    } else if (length > left()) {
      fail(fmt::format("the value of ({:04X},{:04X}) at byte {} is cut short: {} of {} bytes", group, element, start,
                       left(), length));
    } else {
      pos_ += length;
    }
  }

  std::string_view bytes_;
  size_t pos_ = 0;
  DatasetStructure result_;
};

}  // namespace

DatasetStructure walkDataset(std::string_view dataset, DatasetEncoding encoding) {
  return Walk(dataset).run(encoding);
}

}  // namespace volnode
