#pragma once
// Read access to one data set or sequence item of a parsed DICOM file. The getters
// are DCMTK's findAndGet* on this item only (no search into sequences), with plain
// types: absent or unreadable values come back empty (std::nullopt, "" or 0).
// An Item points into its DicomFile and is valid as long as that file is.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "volnode/dicom/tags.hpp"

namespace volnode::dicom {

// An element's value as stored: its VR as read and its value bytes (string VRs without
// trailing padding, as DCMTK holds them; empty for binary VRs).
struct ElementValue {
  std::string vr;     // "PN", "LO", ...
  std::string bytes;  // in the source's character set; '\\' separates values
};

class Item {
 public:
  bool has(Tag tag) const;

  // All values, '\\'-separated (DCMTK's getOFStringArray), up to the first NUL; "" when absent.
  std::string string(Tag tag) const;
  // Value `index` as text (DCMTK's getOFString); nullopt when absent or unreadable.
  std::optional<std::string> stringAt(Tag tag, unsigned long index = 0) const;

  // Value `index` converted by DCMTK from the element's VR; nullopt when it cannot be.
  std::optional<uint16_t> uint16(Tag tag, unsigned long index = 0) const;
  std::optional<int16_t> int16(Tag tag, unsigned long index = 0) const;
  std::optional<int32_t> int32(Tag tag, unsigned long index = 0) const;
  std::optional<double> float64(Tag tag, unsigned long index = 0) const;

  // The element's VR and value bytes; nullopt when absent.
  std::optional<ElementValue> element(Tag tag) const;

  // Items of the sequence `tag` (0 when absent or not a sequence), and item `index` of it.
  size_t sequenceSize(Tag tag) const;
  std::optional<Item> sequenceItem(Tag tag, size_t index = 0) const;

  struct Node;  // opaque: DCMTK's item, never defined here

 private:
  friend class DicomFile;
  explicit Item(Node* node) : node_(node) {}
  Node* node_;
};

// The VR DCMTK's data dictionary gives `tag` ("PN", ...).
std::string dictionaryVr(Tag tag);

}  // namespace volnode::dicom
