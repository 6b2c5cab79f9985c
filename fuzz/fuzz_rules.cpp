// Fuzzes the routing-rule parser RuleSet::parse() (JSON schema 1, match keys,
// regexes, outputs, preprocess options) and the matching of parsed rules against
// a few series (regex search, case-insensitive lists, slice ranges, UID prefixes).
//
// Input: one rules JSON document, as in presets/rules/*.json.
// Expected outcomes: a RuleSet, or volnode::Error(InvalidConfig).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "volnode/core/error.hpp"
#include "volnode/rules/routing_rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace volnode;
  std::string text(reinterpret_cast<const char*>(data), size);
  RuleSet rules;
  try {
    rules = RuleSet::parse(text, "fuzz.json");
  } catch (const Error& e) {
    if (e.code() != Errc::InvalidConfig) {
      std::fprintf(stderr, "RuleSet::parse threw %s: %s\n", std::string(errcName(e.code())).c_str(), e.what());
      std::abort();
    }
    return 0;
  }

  static const SeriesAttributes series[] = {
      {"CT", "CHEST", "Thorax 1.0 B31f", "CT Thorax", "ORTHANC", "1.2.840.10008.5.1.4.1.1.2", "", {"ORIGINAL", "PRIMARY", "AXIAL"}, 120},
      {"MR", "HEAD", "t1_mprage_sag", "T1 MPRAGE", "MRI1", "1.2.840.10008.5.1.4.1.1.4", "3D", {"ORIGINAL", "PRIMARY", "M"}, 176},
      {"CT", "", "Topogram 0.6 T20s", "", "", "1.2.840.10008.5.1.4.1.1.2", "", {"ORIGINAL", "PRIMARY", "LOCALIZER"}, 1},
      {"", "", "", "", "", "", "", {}, 0},
  };
  for (const auto& s : series) {
    try {
      const RoutingRule* first = rules.firstMatch(s);
      auto chosen = rules.match(s);
      if (chosen && (!first || chosen->name != first->name)) {
        std::fprintf(stderr, "match() chose '%s' but firstMatch() is '%s'\n", chosen->name.c_str(),
                     first ? first->name.c_str() : "(none)");
        std::abort();
      }
      if (first) (void)first->presets();
    } catch (const Error&) {
      // A rule that cannot be evaluated (e.g. a regex too complex) is reported as an error.
    }
  }
  return 0;
}
