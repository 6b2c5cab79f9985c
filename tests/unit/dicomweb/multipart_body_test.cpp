// The streamed multipart/related body: the bytes it yields, in whatever chunks
// httplib asks for, are exactly the PS3.18 body, and a file that changes under it
// is an error rather than a short or padded part.
#include <gtest/gtest.h>

#include <fstream>

#include "volnode/dicomweb/multipart_body.hpp"
#include "support/process.hpp"

using volnode::dicomweb::MultipartBody;
using volnode::test::TempDir;

namespace {

void writeFile(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string readBodyInChunks(MultipartBody& body, size_t chunk) {
  std::string all, piece;
  while (all.size() < body.size()) {
    if (!body.read(all.size(), chunk, piece)) return all + "<read failed>";
    all += piece;
  }
  return all;
}

}  // namespace

TEST(MultipartBody, YieldsEveryFileBetweenBoundariesWithItsLength) {
  TempDir dir;
  writeFile(dir / "a.dcm", std::string("first\r\n--not-the-boundary\0x", 28));
  writeFile(dir / "b.dcm", std::string(200000, 'b'));  // several 64 KiB chunks
  MultipartBody body({dir / "a.dcm", dir / "b.dcm"});
  const std::string b = body.boundary();
  EXPECT_EQ(body.contentType(), "multipart/related; type=\"application/dicom\"; boundary=" + b);
  std::string expected = "--" + b + "\r\nContent-Type: application/dicom\r\nContent-Length: 28\r\n\r\n" +
                         std::string("first\r\n--not-the-boundary\0x", 28) + "\r\n--" + b +
                         "\r\nContent-Type: application/dicom\r\nContent-Length: 200000\r\n\r\n" +
                         std::string(200000, 'b') + "\r\n--" + b + "--\r\n";
  EXPECT_EQ(body.size(), expected.size());
  EXPECT_EQ(readBodyInChunks(body, 65536), expected);
  EXPECT_EQ(readBodyInChunks(body, 7), expected);  // chunk edges inside headers and files
}

TEST(MultipartBody, EachBodyHasItsOwnBoundary) {
  TempDir dir;
  writeFile(dir / "a.dcm", "x");
  EXPECT_NE(MultipartBody({dir / "a.dcm"}).boundary(), MultipartBody({dir / "a.dcm"}).boundary());
}

TEST(MultipartBody, AFileThatShrankAfterMeasuringFailsTheRead) {
  TempDir dir;
  writeFile(dir / "a.dcm", std::string(1000, 'a'));
  MultipartBody body({dir / "a.dcm"});
  writeFile(dir / "a.dcm", std::string(10, 'a'));
  EXPECT_EQ(readBodyInChunks(body, 4096).substr(readBodyInChunks(body, 4096).size() - 13), "<read failed>");
}

TEST(MultipartBody, AMissingFileIsRefusedWhenMeasured) {
  TempDir dir;
  EXPECT_THROW(MultipartBody({dir / "missing.dcm"}), std::filesystem::filesystem_error);
}
