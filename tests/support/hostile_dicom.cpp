#include "support/hostile_dicom.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace volnode::test {

std::string readFileBytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void writeFileBytes(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

std::string le16(uint16_t value) { return {char(value & 0xFF), char(value >> 8)}; }
std::string le32(uint32_t value) { return le16(uint16_t(value & 0xFFFF)) + le16(uint16_t(value >> 16)); }

namespace {

const std::string kSequenceStart = std::string("\x08\x00\x40\x11", 4) + "SQ" + std::string(2, '\0') + le32(0xFFFFFFFF);
const std::string kItemStart = std::string("\xFE\xFF\x00\xE0", 4) + le32(0xFFFFFFFF);
const std::string kItemEnd = std::string("\xFE\xFF\x0D\xE0", 4) + le32(0);
const std::string kSequenceEnd = std::string("\xFE\xFF\xDD\xE0", 4) + le32(0);

}  // namespace

std::string nestedSequences(int depth) {
  std::string open, close;
  for (int i = 0; i < depth; ++i) open += kSequenceStart + kItemStart;
  for (int i = 0; i < depth; ++i) close += kItemEnd + kSequenceEnd;
  return open + close;
}

std::string sequenceWithItems(int items) {
  std::string bytes = kSequenceStart;
  bytes.reserve(bytes.size() + size_t(items) * 16 + 8);
  for (int i = 0; i < items; ++i) bytes += kItemStart + kItemEnd;
  return bytes + kSequenceEnd;
}

size_t pixelDataOffset(const std::string& bytes) {
  const size_t at = bytes.rfind(std::string("\xE0\x7F\x10\x00", 4) + "O");
  if (at == std::string::npos) throw std::runtime_error("no Explicit VR Little Endian Pixel Data element");
  return at;
}

void insertBeforePixelData(const std::filesystem::path& file, const std::string& raw) {
  std::string bytes = readFileBytes(file);
  bytes.insert(pixelDataOffset(bytes), raw);
  writeFileBytes(file, bytes);
}

}  // namespace volnode::test
