#include "worker_sandbox.hpp"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include <fmt/format.h>

namespace volnode {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;  // ASan maps terabytes of shadow memory and writes its reports anywhere
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
constexpr uint32_t kAuditArch = 0;
#endif

std::string errnoText() { return std::strerror(errno); }

// Landlock ABI 3 and 4 rights newer than Debian 12's kernel headers (the kernel may be newer).
constexpr uint64_t kLandlockTruncate = 1ULL << 14;
constexpr uint64_t kLandlockBindTcp = 1ULL << 0;
constexpr uint64_t kLandlockConnectTcp = 1ULL << 1;
struct LandlockRulesetAttr {  // struct landlock_ruleset_attr as of ABI 4
  uint64_t handled_access_fs = 0;
  uint64_t handled_access_net = 0;
};

// socket(domain != AF_UNIX) fails with EACCES; syscalls of another ABI (i386,
// x32), which could open sockets by other numbers, end the process.
bool installSocketFilter(std::string* why) {
  if (kAuditArch == 0) {
    *why = "unknown architecture";
    return false;
  }
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
#if defined(__x86_64__)
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),  // x32 system calls
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    *why = errnoText();
    return false;
  }
  return true;
}

int landlockAbi() {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

bool allowPath(int ruleset, const std::filesystem::path& path, uint64_t access) {
  int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return false;
  landlock_path_beneath_attr rule{access, fd};
  bool ok = ::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) == 0;
  ::close(fd);
  return ok;
}

// Writes only where `paths` allow; no TCP bind or connect (ABI 4 and later).
bool restrictWrites(const SandboxPaths& paths, int abi, std::string* why) {
  uint64_t file_writes = LANDLOCK_ACCESS_FS_WRITE_FILE;
  if (abi >= 3) file_writes |= kLandlockTruncate;
  uint64_t dir_writes = file_writes | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                        LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                        LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
                        LANDLOCK_ACCESS_FS_MAKE_SYM;
  if (abi >= 2) dir_writes |= LANDLOCK_ACCESS_FS_REFER;
  LandlockRulesetAttr attr;
  attr.handled_access_fs = dir_writes;
  if (abi >= 4) attr.handled_access_net = kLandlockBindTcp | kLandlockConnectTcp;
  size_t attr_size = abi >= 4 ? sizeof attr : sizeof attr.handled_access_fs;
  int ruleset = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0));
  if (ruleset < 0) {
    *why = errnoText();
    return false;
  }
  for (const auto& dir : paths.writable_dirs) allowPath(ruleset, dir, dir_writes);
  for (const auto& file : paths.writable_files) allowPath(ruleset, file, file_writes);
  bool ok = ::syscall(SYS_landlock_restrict_self, ruleset, 0) == 0;
  if (!ok) *why = errnoText();
  ::close(ruleset);
  return ok;
}

}  // namespace

SandboxReport limitResources(int max_memory_mb, const std::string& cpu_priority) {
  SandboxReport report;
  if (::setpriority(PRIO_PROCESS, 0, 19) == 0)
    report.enforced.push_back("CPU priority nice 19");
  else
    report.skipped.push_back("nice: " + errnoText());
  // SCHED_IDLE: the worker's threads (and all it starts later) run only on CPU time
  // nothing else wants, so a C-STORE never waits for a render.
  sched_param idle{};
  if (cpu_priority == "low")
    report.skipped.push_back("SCHED_IDLE: render.cpu_priority = \"low\"");
  else if (::sched_setscheduler(0, SCHED_IDLE, &idle) == 0)
    report.enforced.push_back("SCHED_IDLE");
  else
    report.skipped.push_back("SCHED_IDLE: " + errnoText());
  // The idle I/O class, where the disk's scheduler honours it (BFQ): result files are
  // written after the node's fsyncs of received instances.
  constexpr int kIoprioClassIdle = 3, kIoprioClassShift = 13, kIoprioWhoProcess = 1;
  if (::syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, kIoprioClassIdle << kIoprioClassShift) == 0)
    report.enforced.push_back("idle I/O class");
  else
    report.skipped.push_back("idle I/O class: " + errnoText());
  if (max_memory_mb <= 0) {
    report.skipped.push_back("memory cap: none configured");
  } else if (kSanitized) {
    report.skipped.push_back("memory cap: not in a sanitizer build");
  } else {
    rlimit limit{static_cast<rlim_t>(max_memory_mb) * 1024 * 1024, static_cast<rlim_t>(max_memory_mb) * 1024 * 1024};
    if (::setrlimit(RLIMIT_DATA, &limit) == 0)
      report.enforced.push_back(fmt::format("memory {} MB (RLIMIT_DATA)", max_memory_mb));
    else
      report.skipped.push_back("memory cap: " + errnoText());
  }
  return report;
}

SandboxReport confine(const SandboxPaths& paths) {
  SandboxReport report;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
    report.enforced.push_back("no new privileges");
  else
    report.skipped.push_back("no new privileges: " + errnoText());
  std::string why;
  if (installSocketFilter(&why))
    report.enforced.push_back("no sockets but Unix ones (seccomp)");
  else
    report.skipped.push_back("socket filter: " + why);
  int abi = landlockAbi();
  if (abi == 0) {
    report.skipped.push_back("read-only store: Landlock is not available in this kernel");
  } else if (kSanitized) {
    report.skipped.push_back("read-only store: not in a sanitizer build (its reports go to any folder)");
  } else if (restrictWrites(paths, abi, &why)) {
    report.enforced.push_back(fmt::format("writes only to results, index and temporary files (Landlock ABI {}{})", abi,
                                          abi >= 4 ? ", no TCP" : ""));
  } else {
    report.skipped.push_back("Landlock: " + why);
  }
  return report;
}

std::string sandboxSummary(const SandboxReport& resources, const SandboxReport& confinement) {
  std::vector<std::string> enforced = resources.enforced, skipped = resources.skipped;
  enforced.insert(enforced.end(), confinement.enforced.begin(), confinement.enforced.end());
  skipped.insert(skipped.end(), confinement.skipped.begin(), confinement.skipped.end());
  return fmt::format("{}{}", fmt::join(enforced, ", "),
                     skipped.empty() ? "" : fmt::format("; not enforced: {}", fmt::join(skipped, "; ")));
}

}  // namespace volnode
