#pragma once
// What a worker process gives up before it reads any received file, so that a
// file that takes over a parser gains little: the kernel enforces each step.
//   - no new privileges (PR_SET_NO_NEW_PRIVS: no setuid binary regains any);
//   - no network: a seccomp filter refuses every socket but Unix ones (the X
//     display and nothing else), and Landlock refuses TCP bind/connect;
//   - no writes outside its results, the index files and temporary folders
//     (Landlock): the store of received instances is read-only to it;
//   - memory capped (RLIMIT_DATA), lowest CPU and I/O priority (SCHED_IDLE, idle I/O class) so
//     that receiving is never slowed by rendering.
// Steps the kernel does not offer are skipped and reported, never fatal.
#include <filesystem>
#include <string>
#include <vector>

namespace volnode {

struct SandboxPaths {
  std::vector<std::filesystem::path> writable_dirs;   // e.g. results, /tmp
  std::vector<std::filesystem::path> writable_files;  // e.g. the index and its -wal/-shm
};

struct SandboxReport {
  std::vector<std::string> enforced;  // "no new privileges", "memory 4096 MB", ...
  std::vector<std::string> skipped;   // with the reason
};

// Lowers priority and caps memory (0 MB: no cap). Call first. `cpu_priority`:
// "idle" (SCHED_IDLE and nice 19) or "low" (nice 19 only), render.cpu_priority.
SandboxReport limitResources(int max_memory_mb, const std::string& cpu_priority = "idle");
// Drops privileges, network and writes. Call after the index is opened.
SandboxReport confine(const SandboxPaths& paths);

// What a worker says when it is ready: every step of both reports that the kernel
// enforced, then "; not enforced: ..." with the reasons for those it skipped.
std::string sandboxSummary(const SandboxReport& resources, const SandboxReport& confinement);

}  // namespace volnode
