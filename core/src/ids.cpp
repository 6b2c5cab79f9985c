#include "volnode/core/ids.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>

#include "volnode/core/error.hpp"

namespace volnode {
namespace {

std::array<uint64_t, 2> random128() {
  thread_local std::mt19937_64 engine([] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(),
                       static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count())};
    return std::mt19937_64(seed);
  }());
  std::array<uint64_t, 2> bits{engine(), engine()};
  bits[0] = (bits[0] & ~0xF000ULL) | 0x4000ULL;               // version 4
  bits[1] = (bits[1] & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  return bits;
}

// 128-bit unsigned to decimal by repeated division (no big-integer library needed).
std::string toDecimal(std::array<uint64_t, 2> value) {
  std::string digits;
  unsigned __int128 n = (static_cast<unsigned __int128>(value[0]) << 64) | value[1];
  if (n == 0) return "0";
  while (n > 0) {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(n % 10)));
    n /= 10;
  }
  return digits;
}

}  // namespace

std::string newUuid() {
  auto bits = random128();
  char text[37];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(bits[0] >> 32),
                static_cast<unsigned>((bits[0] >> 16) & 0xFFFF), static_cast<unsigned>(bits[0] & 0xFFFF),
                static_cast<unsigned>(bits[1] >> 48),
                static_cast<unsigned long long>(bits[1] & 0xFFFFFFFFFFFFULL));
  return text;
}

std::string newDicomUid(const std::string& root) {
  std::string suffix = toDecimal(random128());
  if (root.empty()) return "2.25." + suffix;
  std::string uid = root + "." + suffix;
  if (root.size() > 40) throw Error(Errc::InvalidConfig, "outputs.uid_root '" + root + "' is longer than 40 characters");
  if (uid.size() > 64) uid.resize(64);
  if (uid.back() == '.') uid.pop_back();
  // A component must not start with 0 unless it is exactly "0".
  auto dot = root.size() + 1;
  if (uid.size() > dot + 1 && uid[dot] == '0') uid[dot] = '1';
  return uid;
}

}  // namespace volnode
