#include "auth.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstdio>

namespace volnode::console {

bool constantTimeEquals(std::string_view a, std::string_view b) {
  // Length is not secret; the comparison of equal-length values takes the same time.
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string bearerToken(std::string_view header) {
  constexpr std::string_view prefix = "Bearer ";
  if (header.size() <= prefix.size()) return "";
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return "";
  std::string_view token = header.substr(prefix.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\r')) token.remove_suffix(1);
  return std::string(token);
}

namespace {

std::string hmacHex(const std::string& secret, const std::string& message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

}  // namespace

std::string signLaunchToken(const std::string& secret, const std::string& study_uid, int64_t expires_unix) {
  std::string expires = std::to_string(expires_unix);
  return "v1." + expires + "." + hmacHex(secret, "v1|" + study_uid + "|" + expires);
}

LaunchTokenCheck verifyLaunchToken(const std::string& secret, const std::string& study_uid, const std::string& token,
                                   int64_t now_unix) {
  if (secret.empty() || token.rfind("v1.", 0) != 0) return LaunchTokenCheck::Malformed;
  auto dot = token.find('.', 3);
  if (dot == std::string::npos || dot == 3 || dot - 3 > 12) return LaunchTokenCheck::Malformed;
  std::string expires = token.substr(3, dot - 3);
  for (char c : expires)
    if (c < '0' || c > '9') return LaunchTokenCheck::Malformed;
  std::string expected = hmacHex(secret, "v1|" + study_uid + "|" + expires);
  if (!constantTimeEquals(token.substr(dot + 1), expected)) return LaunchTokenCheck::BadSignature;
  if (std::stoll(expires) < now_unix) return LaunchTokenCheck::Expired;
  return LaunchTokenCheck::Valid;
}

std::string sha256Base64(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  unsigned char out[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(out, digest, SHA256_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

}  // namespace volnode::console
