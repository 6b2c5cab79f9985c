#include "volnode/dicomweb/multipart_reader.hpp"

#include <algorithm>
#include <cctype>

#include "volnode/core/error.hpp"

namespace volnode::dicomweb {
namespace {

// RFC 2046 limits a boundary to 70 characters; part headers of DICOMweb answers are
// a few lines. Anything far larger is not a multipart body we can use.
constexpr std::size_t kMaxBoundary = 200;
constexpr std::size_t kMaxHeaderBlock = 16 * 1024;
constexpr std::size_t kMaxDelimiterLine = 1024;

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string trim(const std::string& text) {
  auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  auto end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

[[noreturn]] void malformed(const std::string& why) {
  throw Error(Errc::InvalidArgument, "malformed multipart body: " + why);
}

}  // namespace

std::string headerParameter(const std::string& value, const std::string& name) {
  const std::string wanted = lower(name);
  std::size_t pos = value.find(';');
  while (pos != std::string::npos && pos < value.size()) {
    ++pos;  // past ';'
    auto equals = value.find('=', pos);
    if (equals == std::string::npos) return "";
    const std::string key = lower(trim(value.substr(pos, equals - pos)));
    std::size_t at = equals + 1;
    while (at < value.size() && (value[at] == ' ' || value[at] == '\t')) ++at;
    std::string parameter;
    std::size_t next;
    if (at < value.size() && value[at] == '"') {  // quoted-string, with \-escapes
      std::size_t i = at + 1;
      for (; i < value.size() && value[i] != '"'; ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        parameter += value[i];
      }
      next = value.find(';', i);
    } else {
      next = value.find(';', at);
      parameter = trim(value.substr(at, next == std::string::npos ? std::string::npos : next - at));
    }
    if (key == wanted) return parameter;
    pos = next;
  }
  return "";
}

std::string multipartBoundary(const std::string& content_type) {
  const std::string type = lower(trim(content_type.substr(0, content_type.find(';'))));
  if (type.rfind("multipart/", 0) != 0)
    throw Error(Errc::InvalidArgument, "expected a multipart answer, got Content-Type \"" + content_type + "\"");
  std::string boundary = headerParameter(content_type, "boundary");
  if (boundary.empty())
    throw Error(Errc::InvalidArgument, "the multipart Content-Type \"" + content_type + "\" has no boundary parameter");
  if (boundary.size() > kMaxBoundary) throw Error(Errc::InvalidArgument, "the multipart boundary is too long");
  return boundary;
}

// The body is read as if it began with CRLF, so that the first boundary (which has
// none before it) is found by the same delimiter as the others.
MultipartReader::MultipartReader(std::string boundary, PartHandler& handler)
    : delimiter_("\r\n--" + std::move(boundary)), handler_(handler), buffer_("\r\n") {}

void MultipartReader::feed(const char* data, std::size_t size) {
  if (state_ == State::Epilogue) return;  // after the closing boundary: ignored
  buffer_.append(data, size);
  while (step()) {
  }
}

bool MultipartReader::step() {
  switch (state_) {
    case State::Preamble: {
      auto found = buffer_.find(delimiter_);
      if (found == std::string::npos) {
        // Keep only what could be the start of the delimiter.
        if (buffer_.size() >= delimiter_.size()) buffer_.erase(0, buffer_.size() - delimiter_.size() + 1);
        return false;
      }
      buffer_.erase(0, found + delimiter_.size());
      state_ = State::DelimiterLine;
      return true;
    }
    case State::DelimiterLine: {
      // After the boundary: "--" closes the body; otherwise optional white space, then CRLF.
      if (buffer_.size() < 2) return false;
      if (buffer_.compare(0, 2, "--") == 0) {
        state_ = State::Epilogue;
        buffer_.clear();
        return false;
      }
      auto line_end = buffer_.find("\r\n");
      if (line_end == std::string::npos) {
        if (buffer_.size() > kMaxDelimiterLine) malformed("a boundary line does not end");
        return false;
      }
      if (buffer_.find_first_not_of(" \t") < line_end)
        malformed("a boundary is followed by other text on its line (a boundary that also occurs in the data?)");
      buffer_.erase(0, line_end);  // keep its CRLF: the header block is "CRLF headers CRLF CRLF"
      state_ = State::Headers;
      return true;
    }
    case State::Headers: {
      auto end = buffer_.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (buffer_.size() > kMaxHeaderBlock) malformed("the headers of part " + std::to_string(parts_completed_ + 1) + " do not end");
        return false;
      }
      std::map<std::string, std::string> headers;
      std::size_t line = 2;  // past the leading CRLF
      while (line < end + 2) {
        auto line_end = buffer_.find("\r\n", line);
        const std::string text = buffer_.substr(line, line_end - line);
        line = line_end + 2;
        if (text.empty()) continue;
        auto colon = text.find(':');
        if (colon == std::string::npos) malformed("part " + std::to_string(parts_completed_ + 1) + " has a header line without ':'");
        headers[lower(trim(text.substr(0, colon)))] = trim(text.substr(colon + 1));
      }
      buffer_.erase(0, end + 4);
      handler_.beginPart(headers);
      state_ = State::Body;
      return true;
    }
    case State::Body: {
      auto found = buffer_.find(delimiter_);
      if (found == std::string::npos) {
        // Hand on all but what could be the start of the delimiter.
        if (buffer_.size() >= delimiter_.size()) {
          const std::size_t safe = buffer_.size() - delimiter_.size() + 1;
          handler_.partData(buffer_.data(), safe);
          buffer_.erase(0, safe);
        }
        return false;
      }
      if (found > 0) handler_.partData(buffer_.data(), found);
      buffer_.erase(0, found + delimiter_.size());
      handler_.endPart();
      ++parts_completed_;
      state_ = State::DelimiterLine;
      return true;
    }
    case State::Epilogue:
      return false;
  }
  return false;
}

void MultipartReader::finish() {
  if (state_ == State::Epilogue) return;
  const std::string complete = std::to_string(parts_completed_) + " part(s) complete";
  std::string where;
  if (state_ == State::Preamble)
    where = "no part began (the boundary \"" + delimiter_.substr(4) + "\" never occurs)";
  else if (state_ == State::DelimiterLine || state_ == State::Headers)  // no part data after it
    where = complete + ", the last boundary lacks its closing \"--\"";
  else
    where = complete + ", part " + std::to_string(parts_completed_ + 1) + " cut off";
  malformed("the body ended before its closing boundary --" + delimiter_.substr(4) + "--; " + where);
}

}  // namespace volnode::dicomweb
