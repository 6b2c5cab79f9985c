#pragma once
// Byte-level hostile DICOM for tests of the guarded reader and the stages behind it:
// structures DCMTK would not write (or not this deep), spliced into a valid file that
// DCMTK wrote in Explicit VR Little Endian.
#include <cstdint>
#include <filesystem>
#include <string>

namespace volnode::test {

std::string readFileBytes(const std::filesystem::path& file);
void writeFileBytes(const std::filesystem::path& file, const std::string& bytes);

// Little endian 16/32-bit values as bytes.
std::string le16(uint16_t value);
std::string le32(uint32_t value);

// `depth` ReferencedImageSequence levels, each one item, all of undefined length
// (Explicit VR Little Endian), closed properly: valid DICOM, only absurdly deep.
std::string nestedSequences(int depth);

// One ReferencedImageSequence of undefined length with `items` empty items.
std::string sequenceWithItems(int items);

// Offset of the (7FE0,0010) element header of an Explicit VR Little Endian file;
// throws std::runtime_error when there is none.
size_t pixelDataOffset(const std::string& bytes);

// Writes `file` again with `raw` inserted just before its pixel data.
void insertBeforePixelData(const std::filesystem::path& file, const std::string& raw);

}  // namespace volnode::test
