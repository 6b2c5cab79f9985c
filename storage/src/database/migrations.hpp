#pragma once
// Schema migrations: numbered SQL files, one set per dialect (storage/sql/README.md),
// embedded at build time and applied in order, each in its own transaction.
#include "connection.hpp"

namespace volnode::sql {

// The newest schema version this build knows (the same for both dialects).
int latestSchemaVersion();
// The version the database at hand carries (0: empty).
int schemaVersion(Connection& db);
// Brings the database to latestSchemaVersion(). Error(Errc::SchemaTooNew) when it
// was written by a newer volnode; Error(Errc::Database) when a migration fails or
// this build lacks the other dialect's version of one.
void migrate(Connection& db);

}  // namespace volnode::sql
