// Fuzzes the configuration parser: parseConfig(text, source, overrides) (toml++
// parse, unknown-key and range checks, "--set key=value" overrides) and
// renderConfig() (the settings view).
//
// Input: TOML text; after an optional line "#--set--", each further line is one
// override ("section.key=value"), as given on the command line.
// Expected outcomes: a Config, or volnode::Error(InvalidConfig). Also checked: the
// rendered effective configuration parses again, and re-rendering it is stable (what
// the console shows is a configuration the node would accept).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "volnode/core/config.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace volnode;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parts = fuzz::splitInput(input, "\n#--set--\n", 2);
  std::string text(parts[0]);
  std::vector<std::string> overrides;
  if (parts.size() > 1) {
    for (auto rest = parts[1]; !rest.empty();) {
      auto nl = rest.find('\n');
      overrides.emplace_back(rest.substr(0, nl));
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
  }

  Config config;
  try {
    config = parseConfig(text, "fuzz.toml", overrides);
  } catch (const Error& e) {
    if (e.code() != Errc::InvalidConfig) {
      std::fprintf(stderr, "parseConfig threw %s: %s\n", std::string(errcName(e.code())).c_str(), e.what());
      std::abort();
    }
    return 0;
  }

  (void)renderConfig(config, true);
  // The settings view / `config --check` text must be a configuration the node accepts,
  // and stable from then on. (The first rendering may differ from the value in use:
  // an override that is not valid TOML is kept as raw bytes, and toml++ writes a byte
  // that is not UTF-8 as a \u escape of that code point -- see docs/security.md.)
  const std::string rendered = renderConfig(config, false);
  try {
    const std::string second = renderConfig(parseConfig(rendered, "rendered.toml"), false);
    const std::string third = renderConfig(parseConfig(second, "rendered-again.toml"), false);
    if (third != second) {
      std::fprintf(stderr, "renderConfig is not stable:\n--- second\n%s\n--- third\n%s\n", second.c_str(),
                   third.c_str());
      std::abort();
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "an accepted configuration renders to one that is refused: %s\n--- rendered\n%s\n", e.what(),
                 rendered.c_str());
    std::abort();
  }
  return 0;
}
