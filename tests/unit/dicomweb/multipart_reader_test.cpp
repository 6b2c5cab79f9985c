// The streaming multipart/related reader that WADO-RS answers go through: every
// body is also fed one byte at a time, so a boundary split across chunks is found.
#include "volnode/dicomweb/multipart_reader.hpp"

#include <gtest/gtest.h>

#include "volnode/core/error.hpp"

using namespace volnode;
using namespace volnode::dicomweb;

namespace {

struct Part {
  std::map<std::string, std::string> headers;
  std::string body;
  bool ended = false;
};

class CollectingHandler : public PartHandler {
 public:
  std::vector<Part> parts;
  void beginPart(const std::map<std::string, std::string>& headers) override { parts.push_back({headers, "", false}); }
  void partData(const char* data, std::size_t size) override { parts.back().body.append(data, size); }
  void endPart() override { parts.back().ended = true; }
};

// Reads `body` in chunks of `chunk` bytes; returns the parts.
std::vector<Part> readPartsInChunks(const std::string& boundary, const std::string& body, std::size_t chunk) {
  CollectingHandler handler;
  MultipartReader reader(boundary, handler);
  for (std::size_t at = 0; at < body.size(); at += chunk) reader.feed(body.data() + at, std::min(chunk, body.size() - at));
  reader.finish();
  return handler.parts;
}

std::string errorOf(const std::string& boundary, const std::string& body) {
  try {
    readPartsInChunks(boundary, body, 7);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const std::string kTwoParts =
    "--XYZ\r\nContent-Type: application/dicom\r\n\r\n"
    "first\r\n--XY not the boundary\r\n"
    "\r\n--XYZ\r\ncontent-type:application/dicom  \r\nContent-Location: /x\r\n\r\n"
    "\r\n\r\nsecond\r\n"
    "\r\n--XYZ--\r\nepilogue, ignored";

}  // namespace

TEST(MultipartBoundary, QuotedUnquotedAndWithOtherParametersAroundIt) {
  EXPECT_EQ(multipartBoundary("multipart/related; type=\"application/dicom\"; boundary=\"a b;c\""), "a b;c");
  EXPECT_EQ(multipartBoundary("Multipart/Related;BOUNDARY=plain-123 ; type=application/dicom"), "plain-123");
  EXPECT_EQ(multipartBoundary("multipart/related; boundary=\"q\\\"uote\""), "q\"uote");
  EXPECT_EQ(headerParameter("multipart/related; type=\"application/dicom\"; boundary=x", "type"), "application/dicom");
}

TEST(MultipartBoundary, NotMultipartOrWithoutBoundaryIsAClearError) {
  EXPECT_THROW(multipartBoundary("application/dicom+json"), Error);
  try {
    multipartBoundary("multipart/related; type=\"application/dicom\"");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no boundary parameter"), std::string::npos) << e.what();
  }
}

TEST(MultipartReader, PartsKeepTheirBytesWhateverTheChunkSize) {
  for (std::size_t chunk : {std::size_t(1), std::size_t(2), std::size_t(5), std::size_t(4096)}) {
    auto parts = readPartsInChunks("XYZ", kTwoParts, chunk);
    ASSERT_EQ(parts.size(), 2u) << "chunk " << chunk;
    EXPECT_EQ(parts[0].body, "first\r\n--XY not the boundary\r\n") << "chunk " << chunk;
    EXPECT_EQ(parts[1].body, "\r\n\r\nsecond\r\n") << "chunk " << chunk;
    EXPECT_EQ(parts[1].headers.at("content-type"), "application/dicom");
    EXPECT_EQ(parts[1].headers.at("content-location"), "/x");
    EXPECT_TRUE(parts[0].ended && parts[1].ended);
  }
}

TEST(MultipartReader, PreambleAndBinaryBytesAreHandled) {
  std::string binary("\0\xff\r\n-\0", 6);
  std::string body = "preamble text\r\n--b\r\n\r\n" + binary + "\r\n--b--";
  auto parts = readPartsInChunks("b", body, 3);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_TRUE(parts[0].headers.empty());
  EXPECT_EQ(parts[0].body, binary);
}

TEST(MultipartReader, MissingClosingBoundaryIsAClearError) {
  const std::string cut = "--XYZ\r\nContent-Type: application/dicom\r\n\r\nfirst\r\n--XYZ\r\n\r\nsecond, cut off";
  std::string error = errorOf("XYZ", cut);
  EXPECT_NE(error.find("ended before its closing boundary --XYZ--"), std::string::npos) << error;
  EXPECT_NE(error.find("1 part(s) complete, part 2 cut off"), std::string::npos) << error;

  error = errorOf("XYZ", "--XYZ\r\n\r\nonly\r\n--XYZ\r\n");
  EXPECT_NE(error.find("lacks its closing \"--\""), std::string::npos) << error;
}

TEST(MultipartReader, ABodyWithoutTheBoundaryOrWithBadHeadersIsAClearError) {
  std::string error = errorOf("XYZ", "--OTHER\r\n\r\ndata\r\n--OTHER--");
  EXPECT_NE(error.find("never occurs"), std::string::npos) << error;
  error = errorOf("XYZ", "--XYZ\r\nno colon here\r\n\r\ndata\r\n--XYZ--");
  EXPECT_NE(error.find("header line without ':'"), std::string::npos) << error;
  error = errorOf("XYZ", "--XYZ trailing junk\r\n\r\ndata\r\n--XYZ--");
  EXPECT_NE(error.find("followed by other text"), std::string::npos) << error;
  error = errorOf("XYZ", "--XYZ\r\n" + std::string(20000, 'h'));
  EXPECT_NE(error.find("do not end"), std::string::npos) << error;
}
