#include "volnode/dicomweb/stow_response.hpp"

#include <nlohmann/json.hpp>

namespace volnode::dicomweb {
namespace {

constexpr const char* kFailedSopSequence = "00081198";
constexpr const char* kReferencedSopSequence = "00081199";
constexpr const char* kReferencedSopClassUid = "00081150";
constexpr const char* kReferencedSopInstanceUid = "00081155";
constexpr const char* kWarningReason = "00081196";
constexpr const char* kFailureReason = "00081197";

// A US value written as text: decimal, or hexadecimal with 0x.
std::optional<uint16_t> usFromText(const std::string& text) {
  try {
    bool hex = text.rfind("0x", 0) == 0 || text.rfind("0X", 0) == 0;
    size_t used = 0;
    unsigned long n = std::stoul(text, &used, hex ? 16 : 10);
    if (used == text.size() && n <= 0xFFFF) return static_cast<uint16_t>(n);
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// --- application/dicom+json (PS3.18 F.2) ---------------------------------------

std::string jsonString(const nlohmann::json& item, const char* tag) {
  auto attr = item.find(tag);
  if (attr == item.end() || !attr->is_object()) return "";
  auto value = attr->find("Value");
  if (value == attr->end() || !value->is_array() || value->empty() || !(*value)[0].is_string()) return "";
  return (*value)[0].get<std::string>();
}

std::optional<uint16_t> jsonUs(const nlohmann::json& item, const char* tag) {
  auto attr = item.find(tag);
  if (attr == item.end() || !attr->is_object()) return std::nullopt;
  auto value = attr->find("Value");
  if (value == attr->end() || !value->is_array() || value->empty()) return std::nullopt;
  const auto& v = (*value)[0];
  if (v.is_number_unsigned() && v.get<uint64_t>() <= 0xFFFF) return static_cast<uint16_t>(v.get<uint64_t>());
  if (v.is_string()) return usFromText(v.get<std::string>());  // some servers write US as text
  return std::nullopt;
}

void readJsonSequence(const nlohmann::json& root, const char* tag, bool failed, StowResponse& out) {
  auto seq = root.find(tag);
  if (seq == root.end() || !seq->is_object()) return;
  auto items = seq->find("Value");
  if (items == seq->end() || !items->is_array()) return;
  for (const auto& item : *items) {
    if (!item.is_object()) continue;
    std::string uid = jsonString(item, kReferencedSopInstanceUid);
    if (uid.empty()) continue;
    out.instances[uid] = {jsonString(item, kReferencedSopClassUid), failed,
                          jsonUs(item, failed ? kFailureReason : kWarningReason)};
  }
}

std::optional<StowResponse> parseJson(const std::string& body) {
  auto root = nlohmann::json::parse(body, nullptr, false);
  if (root.is_array() && root.size() == 1) root = root[0];  // a few servers wrap the data set in an array
  if (!root.is_object() || (!root.contains(kFailedSopSequence) && !root.contains(kReferencedSopSequence)))
    return std::nullopt;
  StowResponse out;
  readJsonSequence(root, kReferencedSopSequence, false, out);
  readJsonSequence(root, kFailedSopSequence, true, out);
  return out;
}

// --- application/dicom+xml (PS3.19 Native DICOM Model) --------------------------
// Enough of XML for this one document shape: DicomAttribute elements with tag
// attributes, Item children and Value texts; no entities occur in UIDs or numbers.

// The end of the element that starts at `open` ("<DicomAttribute ..."), counting nested ones.
size_t elementEnd(const std::string& xml, size_t open, const std::string& name) {
  size_t tag_end = xml.find('>', open);
  if (tag_end == std::string::npos) return std::string::npos;
  if (xml[tag_end - 1] == '/') return tag_end + 1;
  int depth = 1;
  size_t pos = tag_end + 1;
  const std::string open_tag = "<" + name, close_tag = "</" + name + ">";
  while (depth > 0) {
    size_t next_open = xml.find(open_tag, pos), next_close = xml.find(close_tag, pos);
    if (next_close == std::string::npos) return std::string::npos;
    if (next_open != std::string::npos && next_open < next_close) {
      size_t end = xml.find('>', next_open);
      if (end == std::string::npos) return std::string::npos;
      if (xml[end - 1] != '/') ++depth;
      pos = end + 1;
    } else {
      --depth;
      pos = next_close + close_tag.size();
    }
  }
  return pos;
}

// The element's text between its start tag and `end`, of the DicomAttribute with `tag` directly in [from, to).
std::string xmlValue(const std::string& xml, size_t from, size_t to, const char* tag) {
  size_t at = xml.find(std::string("tag=\"") + tag + "\"", from);
  if (at == std::string::npos || at >= to) return "";
  size_t value = xml.find("<Value", at);
  if (value == std::string::npos || value >= to) return "";
  size_t start = xml.find('>', value);
  size_t end = xml.find("</Value>", start);
  if (start == std::string::npos || end == std::string::npos || end > to) return "";
  std::string text = xml.substr(start + 1, end - start - 1);
  auto first = text.find_first_not_of(" \t\r\n"), last = text.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? "" : text.substr(first, last - first + 1);
}

void readXmlSequence(const std::string& xml, const char* tag, bool failed, StowResponse& out) {
  size_t at = xml.find(std::string("tag=\"") + tag + "\"");
  if (at == std::string::npos) return;
  size_t open = xml.rfind("<DicomAttribute", at);
  if (open == std::string::npos) return;
  size_t end = elementEnd(xml, open, "DicomAttribute");
  if (end == std::string::npos) return;
  size_t pos = xml.find('>', open) + 1;
  while (true) {
    size_t item = xml.find("<Item", pos);
    if (item == std::string::npos || item >= end) break;
    size_t item_end = elementEnd(xml, item, "Item");
    if (item_end == std::string::npos || item_end > end) break;
    std::string uid = xmlValue(xml, item, item_end, kReferencedSopInstanceUid);
    if (!uid.empty()) {
      std::optional<uint16_t> reason = usFromText(xmlValue(xml, item, item_end, failed ? kFailureReason : kWarningReason));
      out.instances[uid] = {xmlValue(xml, item, item_end, kReferencedSopClassUid), failed, reason};
    }
    pos = item_end;
  }
}

std::optional<StowResponse> parseXml(const std::string& body) {
  if (body.find("NativeDicomModel") == std::string::npos) return std::nullopt;
  StowResponse out;
  readXmlSequence(body, kReferencedSopSequence, false, out);
  readXmlSequence(body, kFailedSopSequence, true, out);
  return out;
}

}  // namespace

std::optional<StowResponse> parseStowResponse(const std::string& body, const std::string& content_type) {
  auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return std::nullopt;
  bool says_json = content_type.find("json") != std::string::npos;
  bool says_xml = content_type.find("xml") != std::string::npos;
  if (says_json || (!says_xml && (body[first] == '{' || body[first] == '['))) return parseJson(body);
  if (says_xml || body[first] == '<') return parseXml(body);
  return std::nullopt;
}

}  // namespace volnode::dicomweb
