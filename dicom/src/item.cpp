#include "volnode/dicom/item.hpp"

#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include "dcmtk_access.hpp"

namespace volnode::dicom {
namespace {

// Item::Node is never defined: it stands for DCMTK's DcmItem in the public header.
DcmItem& itemOf(Item::Node* node) { return *reinterpret_cast<DcmItem*>(node); }

}  // namespace

bool Item::has(Tag tag) const { return itemOf(node_).tagExists(detail::key(tag)); }

std::string Item::string(Tag tag) const {
  OFString value;
  if (itemOf(node_).findAndGetOFStringArray(detail::key(tag), value).bad()) return {};
  return value.c_str();
}

std::optional<std::string> Item::stringAt(Tag tag, unsigned long index) const {
  OFString value;
  if (itemOf(node_).findAndGetOFString(detail::key(tag), value, index).bad()) return std::nullopt;
  return std::string(value.c_str());
}

std::optional<uint16_t> Item::uint16(Tag tag, unsigned long index) const {
  Uint16 value = 0;
  if (itemOf(node_).findAndGetUint16(detail::key(tag), value, index).bad()) return std::nullopt;
  return value;
}

std::optional<int16_t> Item::int16(Tag tag, unsigned long index) const {
  Sint16 value = 0;
  if (itemOf(node_).findAndGetSint16(detail::key(tag), value, index).bad()) return std::nullopt;
  return value;
}

std::optional<int32_t> Item::int32(Tag tag, unsigned long index) const {
  Sint32 value = 0;
  if (itemOf(node_).findAndGetSint32(detail::key(tag), value, index).bad()) return std::nullopt;
  return value;
}

std::optional<double> Item::float64(Tag tag, unsigned long index) const {
  Float64 value = 0;
  if (itemOf(node_).findAndGetFloat64(detail::key(tag), value, index).bad()) return std::nullopt;
  return value;
}

std::optional<ElementValue> Item::element(Tag tag) const {
  DcmElement* element = nullptr;
  if (itemOf(node_).findAndGetElement(detail::key(tag), element).bad() || element == nullptr) return std::nullopt;
  ElementValue out;
  out.vr = element->getTag().getVR().getVRName();
  char* value = nullptr;
  Uint32 length = 0;
  if (element->getLength() > 0 && element->getString(value, length).good() && value != nullptr)
    out.bytes.assign(value, length);
  return out;
}

size_t Item::sequenceSize(Tag tag) const {
  DcmSequenceOfItems* sequence = nullptr;
  if (itemOf(node_).findAndGetSequence(detail::key(tag), sequence).bad() || sequence == nullptr) return 0;
  return sequence->card();
}

std::optional<Item> Item::sequenceItem(Tag tag, size_t index) const {
  DcmItem* item = nullptr;
  if (itemOf(node_).findAndGetSequenceItem(detail::key(tag), item, long(index)).bad() || item == nullptr)
    return std::nullopt;
  return Item(reinterpret_cast<Node*>(item));
}

std::string dictionaryVr(Tag tag) { return DcmTag(detail::key(tag)).getVR().getVRName(); }

}  // namespace volnode::dicom
