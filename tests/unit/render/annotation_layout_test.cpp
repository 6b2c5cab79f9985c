// Burned-in text never overlaps the orientation letters: a 64-character patient ID
// and a long preset name are fitted beside the letters at the top and bottom centre
// of every frame size; the letters' boxes hold nothing but the letters.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "phantom.hpp"
#include "render_test_support.hpp"
#include "volnode/render/text_fit.hpp"

namespace volnode::test {
namespace {

// A monospaced measure: size / 2 pixels per character (multi-byte characters count once).
int monoWidth(const std::string& text, int size) {
  int characters = 0;
  for (unsigned char c : text) characters += (c & 0xC0) != 0x80;
  return characters * size / 2;
}

TEST(TextFit, FitsAsIsThenSmallerThenCutWithAnEllipsis) {
  auto fitted = render::fitText("PAT-0001", 20, 14, 100, monoWidth);  // 80 px at 20
  EXPECT_EQ(fitted.text, "PAT-0001");
  EXPECT_EQ(fitted.font_size, 20);
  fitted = render::fitText("PAT-0001 2024", 20, 14, 100, monoWidth);  // 130 px at 20, 97 at 15
  EXPECT_EQ(fitted.text, "PAT-0001 2024");
  EXPECT_EQ(fitted.font_size, 15);
  const std::string id64(64, 'X');
  fitted = render::fitText(id64, 20, 14, 100, monoWidth);  // 7 px a character at 14: 14 characters
  EXPECT_EQ(fitted.font_size, 14);
  EXPECT_EQ(fitted.text, std::string(11, 'X') + "...");
  EXPECT_LE(monoWidth(fitted.text, 14), 100);
  // A cut never splits a UTF-8 character, and trailing spaces go before the ellipsis.
  fitted = render::fitText("M\xC3\xBCller  Hans-Peter", 20, 14, 7 * 9, monoWidth);
  EXPECT_EQ(fitted.text, "M\xC3\xBCller...");
  fitted = render::fitText("\xC3\xBC\xC3\xBC\xC3\xBC\xC3\xBC\xC3\xBC\xC3\xBC\xC3\xBC", 20, 14, 7 * 5, monoWidth);
  EXPECT_EQ(fitted.text, "\xC3\xBC\xC3\xBC...");
  EXPECT_EQ(render::fitText(id64, 20, 14, 10, monoWidth).text, "");  // not even "..."
  EXPECT_EQ(render::fitText("", 20, 14, 100, monoWidth).text, "");
}

TEST(TextFit, TheWidthBesideACentreLetterEndsBeforeItsBox) {
  EXPECT_EQ(render::widthBesideCentreLetter(512, 5, 0, 4), 502);   // no letter: the whole edge
  EXPECT_EQ(render::widthBesideCentreLetter(512, 5, 20, 4), 237);  // box from 246: 246 - 4 - 5
  EXPECT_EQ(render::widthBesideCentreLetter(40, 5, 30, 4), 0);
}

// Pixels that differ between two frames of the same size (any channel).
bool differs(const RenderedFrame& a, const RenderedFrame& b, int x, int y) {
  for (int c = 0; c < a.channels; ++c) {
    const size_t i = (size_t(y) * a.width + x) * a.channels + c;
    if (std::abs(int(a.pixels[i]) - int(b.pixels[i])) > 8) return true;
  }
  return false;
}

struct Box {
  int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
  bool empty() const { return x1 < 0; }
};

// Where `with` differs from `without` in rows [y_from, y_to).
Box differenceBox(const RenderedFrame& with, const RenderedFrame& without, int y_from, int y_to) {
  Box b;
  for (int y = y_from; y < y_to; ++y)
    for (int x = 0; x < with.width; ++x)
      if (differs(with, without, x, y)) {
        b.x0 = std::min(b.x0, x), b.x1 = std::max(b.x1, x);
        b.y0 = std::min(b.y0, y), b.y1 = std::max(b.y1, y);
      }
  return b;
}

TEST(RenderAnnotations, ALongPatientIdNeverRunsIntoTheOrientationLetters) {
  auto& r = sharedRenderer();
  r.setVolume(samplePhantom(columns({1, 0, 0}, {0, 1, 0}, {0, 0, 1}), {1.6, 1.6, 2.0}));
  const std::string patient_id = "PATIENT-ID-" + std::string(53, '8');  // 64 characters, the DICOM maximum
  ASSERT_EQ(patient_id.size(), 64u);
  RenderPreset preset = testMip();
  preset.name = "ct-pulmonary-arteries-with-a-long-preset-name";
  for (int size : {64, 128, 256, 512, 768, 1024}) {
    SCOPED_TRACE("frame " + std::to_string(size));
    RenderRequest rq = plainRequest(size);
    const auto bare = r.renderView(preset, View::Anterior, rq);
    rq.orientation_letters = true;
    const auto letters = r.renderView(preset, View::Anterior, rq);
    rq.annotation = patient_id + " 20240101";
    rq.preset_label = true;
    const auto annotated = r.renderView(preset, View::Anterior, rq);
    ASSERT_EQ(annotated.edge_letters[2], "H");
    ASSERT_EQ(annotated.edge_letters[3], "F");

    // The letters' boxes: where the letters alone change the frame, in the top and bottom quarter.
    for (const auto& [edge, box] : {std::pair{"top (H)", differenceBox(letters, bare, 0, size / 4)},
                                    std::pair{"bottom (F)", differenceBox(letters, bare, size - size / 4, size)}}) {
      SCOPED_TRACE(edge);
      ASSERT_FALSE(box.empty()) << "no letter drawn";
      ASSERT_LT(box.x1 - box.x0, size / 4) << "not one letter at the centre";
      // Nothing but the letter there, one pixel around it included.
      int foreign = 0;
      for (int y = std::max(0, box.y0 - 1); y <= std::min(size - 1, box.y1 + 1); ++y)
        for (int x = std::max(0, box.x0 - 1); x <= std::min(size - 1, box.x1 + 1); ++x)
          foreign += differs(annotated, letters, x, y);
      EXPECT_EQ(foreign, 0) << "other text inside the letter's box";
    }
    // The lines were drawn, left of the letters.
    const Box top_text = differenceBox(annotated, letters, 0, size / 4);
    const Box bottom_text = differenceBox(annotated, letters, size - size / 4, size);
    ASSERT_FALSE(top_text.empty()) << "no annotation drawn";
    ASSERT_FALSE(bottom_text.empty()) << "no preset label drawn";
    EXPECT_LT(top_text.x1, size / 2);
    EXPECT_LT(bottom_text.x1, size / 2);
    maybeDump(annotated, "annotated-long-id-" + std::to_string(size));
  }
}

}  // namespace
}  // namespace volnode::test
