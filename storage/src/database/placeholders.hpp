#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace volnode::sql {

// SQLite placeholders (?, ?N) as PostgreSQL's ($N), numbered as SQLite numbers
// them: ?N is N, a bare ? is one more than the largest number so far. Text in
// quotes and comments is left alone. Returns the SQL; `used[n - 1]` tells whether
// $n appears in it (SQLite allows gaps, which PostgreSQL must still type).
std::string postgresPlaceholders(std::string_view sqlite_sql, std::vector<bool>& used);

}  // namespace volnode::sql
