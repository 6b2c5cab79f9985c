#include "volnode/render/text_fit.hpp"

#include <algorithm>
#include <vector>

namespace volnode::render {

FittedText fitText(const std::string& text, int font_size, int min_font_size, int available_px,
                   const TextWidthFn& width_of) {
  min_font_size = std::min(min_font_size, font_size);
  if (text.empty()) return {"", font_size};
  for (int size = font_size; size >= min_font_size; --size)
    if (width_of(text, size) <= available_px) return {text, size};

  // Prefix lengths that end on a UTF-8 character boundary (a multi-byte character is
  // never split); the longest that fits with the ellipsis wins (widths grow with length).
  std::vector<size_t> ends;
  for (size_t i = 1; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ends.push_back(i);
  const std::string ellipsis = "...";
  auto fits = [&](size_t length) {
    std::string cut = text.substr(0, length);
    while (!cut.empty() && cut.back() == ' ') cut.pop_back();
    return width_of(cut + ellipsis, min_font_size) <= available_px;
  };
  size_t lo = 0, hi = ends.size();  // ends[0, lo) fit; ends[hi, ...) do not
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (fits(ends[mid]))
      lo = mid + 1;
    else
      hi = mid;
  }
  std::string cut = lo > 0 ? text.substr(0, ends[lo - 1]) : std::string();
  while (!cut.empty() && cut.back() == ' ') cut.pop_back();
  if (cut.empty() && width_of(ellipsis, min_font_size) > available_px) return {"", min_font_size};
  return {cut + ellipsis, min_font_size};
}

int widthBesideCentreLetter(int frame_width, int margin_px, int letter_px, int gap_px) {
  if (letter_px <= 0) return std::max(0, frame_width - 2 * margin_px);
  const int letter_left = (frame_width - letter_px) / 2;
  return std::max(0, letter_left - gap_px - margin_px);
}

}  // namespace volnode::render
