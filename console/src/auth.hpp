#pragma once
// Tokens of the console: the configured bearer token for mutating calls, and
// short-lived launch tokens signed with a shared secret (HMAC-SHA256) that a web
// PACS can mint for one study without knowing the console token.
#include <cstdint>
#include <string>
#include <string_view>

namespace volnode::console {

bool constantTimeEquals(std::string_view a, std::string_view b);

// The token of an "Authorization: Bearer <token>" header, "" when there is none.
std::string bearerToken(std::string_view authorization_header);

// "v1.<expires unix seconds>.<hex HMAC-SHA256(secret, "v1|<study uid>|<expires>")>"
std::string signLaunchToken(const std::string& secret, const std::string& study_uid, int64_t expires_unix);

enum class LaunchTokenCheck { Valid, Malformed, BadSignature, Expired };
LaunchTokenCheck verifyLaunchToken(const std::string& secret, const std::string& study_uid, const std::string& token,
                                   int64_t now_unix);

// base64(SHA-256(data)), for Content-Security-Policy script hashes.
std::string sha256Base64(std::string_view data);

}  // namespace volnode::console
