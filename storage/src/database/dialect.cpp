#include "connection.hpp"

namespace volnode::sql {

std::string Dialect::unixNow() const {
  // julianday('now') has millisecond precision, as SQLite's clock does.
  return postgresql() ? "EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION"
                      : "((julianday('now') - 2440587.5) * 86400.0)";
}

std::string Dialect::skipLocked() const { return postgresql() ? " FOR UPDATE SKIP LOCKED" : ""; }

std::string Dialect::forUpdate() const { return postgresql() ? " FOR UPDATE" : ""; }

std::string Dialect::greatest(const std::string& a, const std::string& b) const {
  return (postgresql() ? "GREATEST(" : "MAX(") + a + ", " + b + ")";
}

std::string Dialect::least(const std::string& a, const std::string& b) const {
  return (postgresql() ? "LEAST(" : "MIN(") + a + ", " + b + ")";
}

std::string Dialect::sortedDistinctList(const std::string& expression, const std::string& from_where,
                                        const std::string& separator) const {
  if (postgresql())
    return "(SELECT string_agg(DISTINCT " + expression + ", " + separator + " ORDER BY " + expression + ") " +
           from_where + ")";
  // SQLite keeps the order of the subquery's rows in group_concat.
  return "(SELECT group_concat(v, " + separator + ") FROM (SELECT DISTINCT " + expression + " AS v " + from_where +
         " ORDER BY v))";
}

std::string Dialect::secondsBetween(const std::string& later, const std::string& earlier) const {
  if (postgresql())
    return "EXTRACT(EPOCH FROM (CAST(" + later + " AS TIMESTAMPTZ) - CAST(" + earlier +
           " AS TIMESTAMPTZ)))::DOUBLE PRECISION";
  return "((julianday(" + later + ") - julianday(" + earlier + ")) * 86400.0)";
}

std::string Dialect::leadingInteger(const std::string& text) const {
  if (postgresql()) return "COALESCE(CAST(substring(" + text + " FROM '^\\s*([-+]?[0-9]{1,18})') AS BIGINT), 0)";
  return "CAST(" + text + " AS INTEGER)";
}

std::string Dialect::likeIgnoringCase() const { return postgresql() ? "ILIKE" : "LIKE"; }

std::string Dialect::jsonInteger(const std::string& column, const std::string& key) const {
  if (postgresql()) return "CAST(CAST(" + column + " AS JSONB) ->> '" + key + "' AS BIGINT)";
  return "json_extract(" + column + ", '$." + key + "')";
}

std::string Dialect::wildcardMatch(const std::string& column, const std::string& placeholder) const {
  if (postgresql()) return "lower(" + column + ") LIKE lower(" + placeholder + ")";
  return "lower(" + column + ") GLOB lower(" + placeholder + ")";
}

std::string Dialect::wildcardPattern(const std::string& dicom_pattern) const {
  std::string out;
  for (char c : dicom_pattern) {
    if (postgresql()) {
      // LIKE: % and _ are the wildcards, a backslash escapes.
      if (c == '%' || c == '_' || c == '\\') out += '\\';
      out += c == '*' ? '%' : c == '?' ? '_' : c;
    } else {
      // GLOB: * and ? as in DICOM; [ opens a character class.
      out += c == '[' ? std::string("[[]") : std::string(1, c);
    }
  }
  return out;
}

}  // namespace volnode::sql
