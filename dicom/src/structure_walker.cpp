#include "structure_walker.hpp"

#include <cctype>
#include <cstring>

#include <dcmtk/dcmdata/dctag.h>
#include <dcmtk/dcmdata/dcvr.h>

#include "volnode/dicom/limits.hpp"
#include "volnode/dicom/tags.hpp"

namespace volnode::dicom::detail {
namespace {

constexpr uint32_t kUndefinedLength = 0xFFFFFFFF;

bool isItem(uint16_t group, uint16_t element) { return group == 0xFFFE && element == 0xE000; }
bool isItemDelimiter(uint16_t group, uint16_t element) { return group == 0xFFFE && element == 0xE00D; }
bool isSequenceDelimiter(uint16_t group, uint16_t element) { return group == 0xFFFE && element == 0xE0DD; }
bool isPixelData(uint16_t group, uint16_t element) {
  return group == tags::PixelData.group && element == tags::PixelData.element;
}
bool isOverlayData(uint16_t group, uint16_t element) { return (group & 0xFFE1) == 0x6000 && element == 0x3000; }

std::string at(uint64_t offset) { return "byte " + std::to_string(offset) + ": "; }

std::string tagName(uint16_t group, uint16_t element) { return toString(Tag{group, element}); }

// What an element with this VR and an undefined length becomes in DCMTK's parser:
// a sequence in the file's own encoding (SQ, and OB/OW that are not pixel or overlay
// data), a sequence in Implicit VR Little Endian (UN and VRs DCMTK does not know, per
// CP-246), or nothing it can read (every other VR).
enum class UndefinedLengthAs { Sequence, ImplicitSequence, Unreadable };

UndefinedLengthAs undefinedLengthAs(int vr) {
  switch (DcmEVR(vr)) {
    case EVR_SQ:
    case EVR_OB:
    case EVR_OW:
    case EVR_ox:
      return UndefinedLengthAs::Sequence;
    case EVR_UN:
    case EVR_UNKNOWN:
    case EVR_UNKNOWN2B:
      return UndefinedLengthAs::ImplicitSequence;
    default:
      return UndefinedLengthAs::Unreadable;
  }
}

}  // namespace

uint16_t StructureWalker::u16(uint64_t offset, Encoding encoding) {
  uint8_t b[2];
  if (!source_.read(offset, b, 2)) throw StructureError(at(offset) + "the data end inside an element header");
  return encoding.big_endian ? uint16_t((b[0] << 8) | b[1]) : uint16_t(b[0] | (b[1] << 8));
}

uint32_t StructureWalker::u32(uint64_t offset, Encoding encoding) {
  uint8_t b[4];
  if (!source_.read(offset, b, 4)) throw StructureError(at(offset) + "the data end inside an element header");
  return encoding.big_endian ? (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3]
                             : uint32_t(b[0]) | (uint32_t(b[1]) << 8) | (uint32_t(b[2]) << 16) | (uint32_t(b[3]) << 24);
}

std::string StructureWalker::text(uint64_t offset, uint32_t length, size_t at_most) {
  std::string value(std::min<size_t>(length, at_most), '\0');
  if (!source_.read(offset, value.data(), value.size())) value.clear();
  return value;
}

Encoding StructureWalker::detectEncoding(uint64_t offset) {
  // DcmItem::checkTransferSyntax: explicit VR when bytes 5-6 name a standard VR; big
  // endian only when the tag is unknown read little endian but known read big endian.
  uint8_t b[6];
  if (!source_.read(offset, b, 6)) return kExplicitLittle;
  const uint16_t g = uint16_t(b[0] | (b[1] << 8)), e = uint16_t(b[2] | (b[3] << 8));
  const DcmTag little(g, e), big(uint16_t((g >> 8) | (g << 8)), uint16_t((e >> 8) | (e << 8)));
  bool explicit_vr = false;
  if (std::isalpha(b[4]) && std::isalpha(b[5])) {
    const char name[3] = {char(b[4]), char(b[5]), '\0'};
    explicit_vr = DcmVR(name).isStandard();
  }
  const bool big_endian = little.error().bad() && big.error().good();
  return {explicit_vr, big_endian};
}

StructureWalker::Header StructureWalker::readElementHeader(uint64_t offset, uint64_t limit, Encoding encoding,
                                                           const char* container) {
  auto need = [&](uint64_t bytes) {
    if (bytes > limit - offset)
      throw StructureError(at(offset) + "an element header runs past the end of the " + container);
  };
  need(4);
  Header h;
  h.offset = offset;
  h.group = u16(offset, encoding);
  h.element = u16(offset + 2, encoding);
  const DcmTag dictionary(h.group, h.element);
  const bool delimitation = dictionary.getEVR() == EVR_na;  // items and delimiters carry no VR
  if (encoding.explicit_vr && !delimitation) {
    need(6);
    if (!source_.read(offset + 4, h.vr_name, 2))
      throw StructureError(at(offset) + "the data end inside an element header");
    DcmVR vr(h.vr_name);
    // DCMTK's own workaround for a VR some writers use on pixel data.
    if (isPixelData(h.group, h.element) && std::strncmp(h.vr_name, "OX", 2) == 0) vr.setVR(EVR_OW);
    h.vr = vr.getEVR();
    if (vr.usesExtendedLengthEncoding()) {
      need(12);
      h.length = u32(offset + 8, encoding);
      h.value = offset + 12;
    } else {
      need(8);
      h.length = u16(offset + 6, encoding);
      h.value = offset + 8;
    }
  } else {
    need(8);
    h.vr = delimitation ? EVR_na : dictionary.getEVR();
    h.length = u32(offset + 4, encoding);
    h.value = offset + 8;
  }
  return h;
}

uint64_t StructureWalker::walkFileMeta(uint64_t offset, std::optional<std::string>& transfer_syntax) {
  // DcmMetaInfo::read: the encoding is detected, a leading (0002,0000) gives the end,
  // without it the header lasts as long as tags are of group 0002 (either byte order).
  const Encoding encoding = detectEncoding(offset);
  const uint64_t size = source_.size();
  auto nextIsMeta = [&](uint64_t at) {
    uint8_t b[2];
    return source_.read(at, b, 2) && ((b[0] == 0x02 && b[1] == 0x00) || (b[0] == 0x00 && b[1] == 0x02));
  };
  std::optional<uint64_t> end;
  bool first = true;
  uint64_t pos = offset;
  while (pos < size && (end ? pos < *end : nextIsMeta(pos))) {
    const Header h = readElementHeader(pos, size, encoding, "file");
    if (h.vr == EVR_na) throw StructureError(at(pos) + "a sequence item or delimiter in the File Meta Information");
    if (h.group == tags::TransferSyntaxUID.group && h.element == tags::TransferSyntaxUID.element &&
        !transfer_syntax && h.length != kUndefinedLength && h.length <= size - h.value)
      transfer_syntax = text(h.value, h.length, 256);
    pos = walkValue(h, size, Scope::Meta, encoding, 0);
    if (first && h.group == 0x0002 && h.element == 0x0000 && h.length == 4) end = pos + u32(h.value, encoding);
    first = false;
  }
  return pos;
}

void StructureWalker::walkDataset(uint64_t offset, Encoding encoding) {
  walkElements(offset, source_.size(), Scope::Dataset, encoding, 0);
}

uint64_t StructureWalker::walkElements(uint64_t offset, uint64_t limit, Scope scope, Encoding encoding, int depth) {
  const char* container = scope == Scope::DefinedItem ? "item" : "file";
  uint64_t pos = offset;
  while (true) {
    if (pos >= limit) {
      if (scope != Scope::UndefinedItem) return pos;
      throw StructureError(at(pos) + "an item of undefined length (nesting level " + std::to_string(depth) +
                           ") has no item delimiter before the end of the " +
                           (limit == source_.size() ? "file" : "item holding it"));
    }
    const Header h = readElementHeader(pos, limit, encoding, container);
    if (isItem(h.group, h.element)) throw StructureError(at(pos) + "a sequence item where a data element should be");
    if (isItemDelimiter(h.group, h.element)) {
      if (scope == Scope::DefinedItem || scope == Scope::UndefinedItem) return h.value;  // DCMTK ends the item here
      throw StructureError(at(pos) + "an item delimiter outside any item");
    }
    if (isSequenceDelimiter(h.group, h.element))
      throw StructureError(at(pos) + "a sequence delimiter where a data element should be");
    pos = walkValue(h, limit, scope, encoding, depth);
  }
}

uint64_t StructureWalker::walkValue(const Header& h, uint64_t limit, Scope scope, Encoding encoding, int depth) {
  const bool top_level = scope == Scope::Dataset;
  const std::string name = tagName(h.group, h.element);
  if (h.length == kUndefinedLength) {
    const bool pixel_data = isPixelData(h.group, h.element);
    if (pixel_data && (h.vr == EVR_OB || h.vr == EVR_OW || h.vr == EVR_ox || h.vr == EVR_UN))
      return walkFragments(h.value, limit, encoding, top_level);
    if (isOverlayData(h.group, h.element) && (h.vr == EVR_OB || h.vr == EVR_OW || h.vr == EVR_ox))
      throw StructureError(at(h.offset) + "Overlay Data " + name + " has an undefined length");
    switch (undefinedLengthAs(h.vr)) {
      case UndefinedLengthAs::Sequence:
        return walkSequence(h.value, limit, false, encoding, depth + 1, h);
      case UndefinedLengthAs::ImplicitSequence:
        return walkSequence(h.value, limit, false, kImplicitLittle, depth + 1, h);
      case UndefinedLengthAs::Unreadable:
        break;
    }
    throw StructureError(at(h.offset) + "element " + name + " (VR " + DcmVR(DcmEVR(h.vr)).getVRName() +
                         ") has an undefined length, which only sequences and pixel data may have");
  }
  const uint64_t left = limit - h.value;
  if (h.length > left) {
    const char* container = scope == Scope::DefinedItem ? "its item" : "the file";
    throw StructureError(at(h.offset) + "element " + name + " claims " + std::to_string(h.length) + " bytes, only " +
                         std::to_string(left) + " are left in " + container);
  }
  const uint64_t end = h.value + h.length;
  if (h.vr == EVR_SQ) return walkSequence(h.value, end, true, encoding, depth + 1, h);
  // Implicit VR: DCMTK takes the VR of a private element from its private dictionary,
  // which knows vendor sequences. Whatever it calls a sequence starts with an item, so
  // a private value that does is walked as one too (for its depth and items); when it
  // turns out not to be a sequence, its bytes are only bytes.
  if (!encoding.explicit_vr && (h.group & 1) && h.element >= 0x1000 && startsWithItem(h.value, h.length, encoding)) {
    try {
      walkSequence(h.value, end, true, encoding, depth + 1, h);
    } catch (const StructureError& e) {
      if (e.limit()) throw;
    }
    return end;
  }
  if (top_level) {
    noteImageAttribute(h, encoding);
    const bool pixel_data = isPixelData(h.group, h.element) ||
                            (h.group == tags::FloatPixelData.group && h.element == tags::FloatPixelData.element) ||
                            (h.group == tags::DoubleFloatPixelData.group &&
                             h.element == tags::DoubleFloatPixelData.element);
    if (pixel_data && !out_.pixel_data) {
      PixelDataLayout layout;
      layout.length = h.length;
      if (isPixelData(h.group, h.element)) layout.file_offset = h.value;
      out_.pixel_data = layout;
    }
  }
  return end;
}

uint64_t StructureWalker::walkSequence(uint64_t offset, uint64_t limit, bool defined, Encoding encoding, int depth,
                                       const Header& owner) {
  if (depth > kMaxSequenceDepth)
    throw StructureError(at(owner.offset) + "sequences nested deeper than " + std::to_string(kMaxSequenceDepth) +
                             " levels",
                         true);
  out_.max_depth = std::max(out_.max_depth, depth);
  const char* container = defined ? "sequence" : (limit == source_.size() ? "file" : "item holding it");
  uint64_t pos = offset;
  while (true) {
    if (pos >= limit) {
      if (defined) return pos;
      throw StructureError(at(owner.offset) + "sequence " + tagName(owner.group, owner.element) +
                           " of undefined length has no sequence delimiter before the end of the " + container);
    }
    // Items and delimiters: tag and 32-bit length, no VR in any encoding.
    if (8 > limit - pos) throw StructureError(at(pos) + "an item header runs past the end of the " + container);
    const uint16_t group = u16(pos, encoding), element = u16(pos + 2, encoding);
    const uint32_t length = u32(pos + 4, encoding);
    if (isSequenceDelimiter(group, element)) return pos + 8;
    if (!isItem(group, element))
      throw StructureError(at(pos) + tagName(group, element) + " inside sequence " +
                           tagName(owner.group, owner.element) + " where an item should be");
    if (++out_.items > kMaxSequenceItems)
      throw StructureError(at(pos) + "more than " + std::to_string(kMaxSequenceItems) + " sequence items", true);
    if (length == kUndefinedLength) {
      pos = walkElements(pos + 8, limit, Scope::UndefinedItem, encoding, depth);
    } else {
      if (length > limit - pos - 8)
        throw StructureError(at(pos) + "an item of sequence " + tagName(owner.group, owner.element) + " claims " +
                             std::to_string(length) + " bytes, only " + std::to_string(limit - pos - 8) +
                             " are left in the " + container);
      pos = walkElements(pos + 8, pos + 8 + length, Scope::DefinedItem, encoding, depth);
    }
  }
}

uint64_t StructureWalker::walkFragments(uint64_t offset, uint64_t limit, Encoding encoding, bool top_level) {
  PixelDataLayout layout;
  layout.encapsulated = true;
  uint64_t pos = offset;
  while (true) {
    if (8 > limit - std::min(pos, limit))
      throw StructureError(at(pos) + "encapsulated Pixel Data has no sequence delimiter before the end of the " +
                           std::string(limit == source_.size() ? "file" : "item holding it"));
    const uint16_t group = u16(pos, encoding), element = u16(pos + 2, encoding);
    const uint32_t length = u32(pos + 4, encoding);
    if (isSequenceDelimiter(group, element)) {
      pos += 8;
      break;
    }
    if (!isItem(group, element))
      throw StructureError(at(pos) + tagName(group, element) +
                           " inside encapsulated Pixel Data where a fragment should be");
    if (length == kUndefinedLength) throw StructureError(at(pos) + "a Pixel Data fragment has an undefined length");
    if (length > limit - pos - 8)
      throw StructureError(at(pos) + "a Pixel Data fragment claims " + std::to_string(length) + " bytes, only " +
                           std::to_string(limit - pos - 8) + " are left in the file");
    pos += 8 + uint64_t(length);
    layout.length += length;
    ++layout.fragments;
  }
  if (top_level && !out_.pixel_data) out_.pixel_data = layout;
  return pos;
}

bool StructureWalker::startsWithItem(uint64_t offset, uint32_t length, Encoding encoding) {
  if (length < 8) return false;
  const uint16_t group = u16(offset, encoding), element = u16(offset + 2, encoding);
  return isItem(group, element) || isSequenceDelimiter(group, element);
}

void StructureWalker::noteImageAttribute(const Header& h, Encoding encoding) {
  // DCMTK keeps the first of two elements with one tag; so does this.
  const Tag tag{h.group, h.element};
  auto us = [&](std::optional<uint16_t>& into) {
    if (!into && h.length >= 2) into = u16(h.value, encoding);
  };
  auto string = [&](std::optional<std::string>& into) {
    if (!into) into = text(h.value, h.length, 64);
  };
  if (tag == tags::Rows) us(image_.rows);
  else if (tag == tags::Columns) us(image_.columns);
  else if (tag == tags::SamplesPerPixel) us(image_.samples_per_pixel);
  else if (tag == tags::BitsAllocated) us(image_.bits_allocated);
  else if (tag == tags::NumberOfFrames) string(image_.number_of_frames);
  else if (tag == tags::PhotometricInterpretation) string(image_.photometric);
}

}  // namespace volnode::dicom::detail
