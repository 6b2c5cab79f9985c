#pragma once
// Small, durable file-system operations shared by the store and the outputs.
#include <cstdint>
#include <filesystem>
#include <string>

namespace volnode {

// Flushes a file's data to stable storage (fdatasync). Throws Error(Errc::Io).
void syncFile(const std::filesystem::path& file);

// Flushes a directory entry (after a rename or create) to stable storage.
void syncDirectory(const std::filesystem::path& dir);

// Free bytes for unprivileged users on the filesystem holding `path`.
uint64_t freeBytes(const std::filesystem::path& path);

// The whole content of a file. Throws Error(Errc::Io).
std::string readFile(const std::filesystem::path& file);


}  // namespace volnode
