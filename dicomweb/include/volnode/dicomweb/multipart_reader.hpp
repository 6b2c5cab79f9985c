#pragma once
// Reads a multipart/related body (RFC 2046 5.1, PS3.18 8.6.1.2) as it arrives, chunk
// by chunk, without holding it: each part's headers are parsed, its bytes handed on
// as they come (a WADO-RS answer of a whole study goes straight to disk). Only the
// last few bytes that might start a boundary are kept back between chunks.
//
// Malformed bodies are errors naming the problem (Error(Errc::InvalidArgument)):
// no boundary parameter, a part header block without its end, a body that ends
// before its closing boundary.
#include <cstddef>
#include <map>
#include <string>

namespace volnode::dicomweb {

// The boundary parameter of a multipart Content-Type, quoted or not
// (`multipart/related; type="application/dicom"; boundary="a b"` -> "a b").
// Throws Error(InvalidArgument) when the type is not multipart/* or has no boundary.
std::string multipartBoundary(const std::string& content_type);

// The value of a parameter of a header value (`type` of the Content-Type above),
// unquoted; "" when absent. Parameter names compare case-insensitively.
std::string headerParameter(const std::string& header_value, const std::string& name);

// What the reader hands each part to.
class PartHandler {
 public:
  virtual ~PartHandler() = default;
  // Header names in lower case.
  virtual void beginPart(const std::map<std::string, std::string>& headers) = 0;
  virtual void partData(const char* data, std::size_t size) = 0;
  virtual void endPart() = 0;
};

class MultipartReader {
 public:
  MultipartReader(std::string boundary, PartHandler& handler);

  // The next bytes of the body. Throws Error(InvalidArgument) on a malformed body.
  void feed(const char* data, std::size_t size);
  // The body is over: throws Error(InvalidArgument) unless the closing boundary came.
  void finish();

  std::size_t partsCompleted() const { return parts_completed_; }
  bool closed() const { return state_ == State::Epilogue; }

 private:
  enum class State { Preamble, DelimiterLine, Headers, Body, Epilogue };
  bool step();  // one state transition on the buffer; false when it needs more bytes

  std::string delimiter_;  // CRLF "--" boundary
  PartHandler& handler_;
  std::string buffer_;
  State state_ = State::Preamble;
  std::size_t parts_completed_ = 0;
};

}  // namespace volnode::dicomweb
