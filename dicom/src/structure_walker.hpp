#pragma once
// Internal: the element-by-element walk of the pre-scan (see structure.hpp). It reads
// what DCMTK's parser reads -- tag, VR, length -- decides as DCMTK does which elements
// are sequences, and checks every length against what holds it. It recurses once per
// sequence level and stops at kMaxSequenceDepth, so its own stack use is bounded.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "byte_source.hpp"
#include "volnode/dicom/structure.hpp"

namespace volnode::dicom::detail {

// How the bytes being walked are encoded.
struct Encoding {
  bool explicit_vr = true;
  bool big_endian = false;
};

inline constexpr Encoding kImplicitLittle{false, false};
inline constexpr Encoding kExplicitLittle{true, false};

// A structural defect; `limit` marks the ones a file breaks by its size (depth, items).
class StructureError : public std::runtime_error {
 public:
  StructureError(const std::string& reason, bool limit = false) : std::runtime_error(reason), limit_(limit) {}
  bool limit() const noexcept { return limit_; }

 private:
  bool limit_;
};

// The few top-level attributes that size the pixel data, as found in the bytes.
struct ImageAttributes {
  std::optional<uint16_t> rows, columns, samples_per_pixel, bits_allocated;
  std::optional<std::string> number_of_frames;  // IS, as written
  std::optional<std::string> photometric;       // CS, as written
};

class StructureWalker {
 public:
  StructureWalker(ByteSource& source, Structure& out) : source_(source), out_(out) {}

  // Guesses the encoding of the bytes at `offset` as DCMTK does when nothing says it.
  Encoding detectEncoding(uint64_t offset);

  // Walks the File Meta Information starting at `offset` (group 0002, up to its group
  // length or, without one, as long as tags are of group 0002). Returns the offset after
  // it and, through `transfer_syntax`, the value of (0002,0010) when present.
  uint64_t walkFileMeta(uint64_t offset, std::optional<std::string>& transfer_syntax);

  // Walks a data set from `offset` to the end of the source.
  void walkDataset(uint64_t offset, Encoding encoding);

  const ImageAttributes& image() const { return image_; }

 private:
  struct Header {
    uint16_t group = 0, element = 0;
    int vr = 0;              // DCMTK's DcmEVR for the element
    char vr_name[3] = {};    // as written (explicit VR), for messages
    uint32_t length = 0;
    uint64_t offset = 0;     // of the tag
    uint64_t value = 0;      // of the first value byte
  };
  enum class Scope { Dataset, Meta, DefinedItem, UndefinedItem };

  Header readElementHeader(uint64_t offset, uint64_t limit, Encoding encoding, const char* container);
  uint64_t walkElements(uint64_t offset, uint64_t limit, Scope scope, Encoding encoding, int depth);
  uint64_t walkValue(const Header& h, uint64_t limit, Scope scope, Encoding encoding, int depth);
  uint64_t walkSequence(uint64_t offset, uint64_t limit, bool defined, Encoding encoding, int depth,
                        const Header& owner);
  uint64_t walkFragments(uint64_t offset, uint64_t limit, Encoding encoding, bool top_level);
  bool startsWithItem(uint64_t offset, uint32_t length, Encoding encoding);
  void noteImageAttribute(const Header& h, Encoding encoding);

  uint16_t u16(uint64_t offset, Encoding encoding);
  uint32_t u32(uint64_t offset, Encoding encoding);
  std::string text(uint64_t offset, uint32_t length, size_t at_most);

  ByteSource& source_;
  Structure& out_;
  ImageAttributes image_;
};

}  // namespace volnode::dicom::detail
