#pragma once
// Burned-in text that keeps out of the orientation letters: a line (patient ID and
// date, the preset name) shares its frame edge with the letter at the centre of that
// edge, so it may only use the width from its corner to the letter's box. A line too
// wide is set smaller, down to a minimum size, then cut with "..." at a character
// boundary (UTF-8 aware); a line that cannot show even "..." is dropped.
#include <functional>
#include <string>

namespace volnode::render {

// Width in pixels of `text` at font size `font_size`.
using TextWidthFn = std::function<int(const std::string& text, int font_size)>;

struct FittedText {
  std::string text;   // the text as drawn ("" when nothing fits)
  int font_size = 0;  // the size it is drawn at
};

// Fits `text` into `available_px`, trying font sizes from `font_size` down to
// `min_font_size` before cutting it.
FittedText fitText(const std::string& text, int font_size, int min_font_size, int available_px,
                   const TextWidthFn& width_of);

// The width a corner line may use on an edge whose centre holds a letter box
// `letter_px` wide (0: no letter there): from the margin to `gap_px` before the box.
int widthBesideCentreLetter(int frame_width, int margin_px, int letter_px, int gap_px);

}  // namespace volnode::render
