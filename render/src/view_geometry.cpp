// View geometry in patient (LPS) coordinates (see view_geometry.hpp), and the
// names of the views declared in render.hpp.
#include "volnode/render/view_geometry.hpp"

#include <algorithm>
#include <cmath>

#include "volnode/core/error.hpp"

namespace volnode {

std::string viewName(View v) {
  switch (v) {
    case View::Anterior: return "anterior";
    case View::Posterior: return "posterior";
    case View::Left: return "left";
    case View::Right: return "right";
    case View::Superior: return "superior";
    case View::Inferior: return "inferior";
  }
  return "?";
}

View parseView(const std::string& t) {
  for (View v : keyViews())
    if (viewName(v) == t) return v;
  throw Error(Errc::InvalidArgument,
              "unknown view \"" + t + "\" (expected anterior, posterior, left, right, superior or inferior)");
}

const std::vector<View>& keyViews() {
  static const std::vector<View> all{View::Anterior, View::Posterior, View::Left,
                                     View::Right,    View::Superior,  View::Inferior};
  return all;
}

namespace render {

namespace {
constexpr double kPi = 3.14159265358979323846;
}

Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}

double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

ViewBasis spinBasis(double degrees) {
  const double a = degrees * kPi / 180.0;
  return {{-std::sin(a), std::cos(a), 0.0}, {0, 0, 1}};
}

ViewBasis orbitBasis(double azimuth_deg, double elevation_deg) {
  if (elevation_deg == 0) return spinBasis(azimuth_deg);
  const double a = azimuth_deg * kPi / 180.0, e = elevation_deg * kPi / 180.0;
  // The viewer sits at (sin a cos e, -cos a cos e, sin e) from the centre; image up is
  // that position's derivative along e, so e = 0 gives the spin's head-up frame.
  const Vec3 eye{std::sin(a) * std::cos(e), -std::cos(a) * std::cos(e), std::sin(e)};
  return {{-eye[0], -eye[1], -eye[2]}, {-std::sin(a) * std::sin(e), std::cos(a) * std::sin(e), std::cos(e)}};
}

ViewBasis viewBasis(View view) {
  switch (view) {
    case View::Anterior: return spinBasis(0);
    case View::Left: return spinBasis(90);
    case View::Posterior: return spinBasis(180);
    case View::Right: return spinBasis(270);
    case View::Superior: return {{0, 0, -1}, {0, -1, 0}};
    case View::Inferior: return {{0, 0, 1}, {0, -1, 0}};
  }
  return spinBasis(0);
}

bool isSpinView(View v) { return v != View::Superior && v != View::Inferior; }

double spinAngleOf(View v) {
  switch (v) {
    case View::Left: return 90;
    case View::Posterior: return 180;
    case View::Right: return 270;
    default: return 0;
  }
}

std::string orientationLetters(const Vec3& v) {
  static const char pos[3] = {'L', 'P', 'H'}, neg[3] = {'R', 'A', 'F'};
  std::array<int, 3> order{0, 1, 2};
  std::sort(order.begin(), order.end(), [&](int a, int b) { return std::fabs(v[a]) > std::fabs(v[b]); });
  std::string s;
  for (int i = 0; i < 2; ++i) {
    const int c = order[i];
    if (std::fabs(v[c]) > 0.25) s += v[c] > 0 ? pos[c] : neg[c];
  }
  return s;
}

std::array<std::string, 4> edgeLetters(const ViewBasis& b) {
  const Vec3 r = b.right();
  return {orientationLetters({-r[0], -r[1], -r[2]}), orientationLetters(r), orientationLetters(b.up),
          orientationLetters({-b.up[0], -b.up[1], -b.up[2]})};
}

double parallelScale(const std::vector<Vec3>& points, const Vec3& centre, const std::vector<ViewBasis>& bases,
                     double aspect, double fill) {
  double s = 0;
  for (const auto& b : bases) {
    // Half extents (right, up) of the points about the centre.
    const Vec3 r = b.right();
    double hr = 0, hu = 0;
    for (const auto& p : points) {
      const Vec3 d{p[0] - centre[0], p[1] - centre[1], p[2] - centre[2]};
      hr = std::max(hr, std::fabs(dot(d, r)));
      hu = std::max(hu, std::fabs(dot(d, b.up)));
    }
    s = std::max({s, hu, hr / aspect});
  }
  return std::max(s, 1e-3) / fill;
}

}  // namespace render
}  // namespace volnode
