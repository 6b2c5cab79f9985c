// Fuzzes the rendering-preset parser parsePreset() (JSON schema 1: points,
// colours, blend, units, lighting) and what the renderer computes from a parsed
// preset before any VTK object exists (lowest visible value, relative units
// resolved against a reference intensity).
//
// Input: one preset JSON document, as in presets/*.json.
// Expected outcomes: a RenderPreset, or volnode::Error(InvalidConfig).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "volnode/core/error.hpp"
#include "volnode/render/presets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace volnode;
  std::string text(reinterpret_cast<const char*>(data), size);
  RenderPreset preset;
  try {
    preset = parsePreset(text, "fuzz.json");
  } catch (const Error& e) {
    if (e.code() != Errc::InvalidConfig) {
      std::fprintf(stderr, "parsePreset threw %s: %s\n", std::string(errcName(e.code())).c_str(), e.what());
      std::abort();
    }
    return 0;
  }
  (void)preset.lowestVisibleValue();
  for (double reference : {1.0, 850.0, 4095.0}) {
    RenderPreset physical = preset.resolved(reference);
    (void)physical.lowestVisibleValue();
  }
  return 0;
}
