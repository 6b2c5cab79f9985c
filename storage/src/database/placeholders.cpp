#include "placeholders.hpp"

#include <cctype>

namespace volnode::sql {

std::string postgresPlaceholders(std::string_view sql, std::vector<bool>& used) {
  std::string out;
  out.reserve(sql.size() + 16);
  used.clear();
  int count = 0;
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // a literal or a quoted name: copied up to its closing quote
      size_t end = i + 1;
      while (end < sql.size() && sql[end] != c) ++end;
      out.append(sql.substr(i, end + 1 - i));
      i = end + 1;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {  // a comment to the end of the line
      size_t end = sql.find('\n', i);
      if (end == std::string_view::npos) end = sql.size();
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '?') {
      size_t digits = i + 1;
      while (digits < sql.size() && std::isdigit(static_cast<unsigned char>(sql[digits]))) ++digits;
      int number = digits > i + 1 ? std::stoi(std::string(sql.substr(i + 1, digits - i - 1))) : count + 1;
      if (number > count) count = number;
      if (used.size() < static_cast<size_t>(number)) used.resize(static_cast<size_t>(number), false);
      used[static_cast<size_t>(number - 1)] = true;
      out += '$' + std::to_string(number);
      i = digits;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

}  // namespace volnode::sql
