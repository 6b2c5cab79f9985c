#pragma once
// View geometry in patient (LPS) coordinates, without VTK: the camera basis of
// each anatomical view and spin angle, the orientation letters burned in at the
// frame's edges, and the parallel scale that frames an object. render.hpp
// describes the views; this is the arithmetic behind them.
#include <array>
#include <string>
#include <vector>

#include "volnode/render/render.hpp"

namespace volnode::render {

using Vec3 = std::array<double, 3>;

Vec3 cross(const Vec3& a, const Vec3& b);
double dot(const Vec3& a, const Vec3& b);

// Camera basis in LPS: dop = direction of projection (from the viewer into the
// patient), up = image up. Image right = dop x up (VTK's convention).
struct ViewBasis {
  Vec3 dop, up;
  Vec3 right() const { return cross(dop, up); }
};

// Spin angle (degrees) about the head-foot axis: the viewer is at
// (sin a, -cos a, 0) from the centre, 0 in front (anterior), 90 at the
// patient's left, head up.
ViewBasis spinBasis(double degrees);
ViewBasis viewBasis(View view);
// The viewer's free camera: the spin's basis at `azimuth_deg` tilted up by
// `elevation_deg` (90: from above the head, the image's top towards where the
// viewer came from). Elevation 0 is spinBasis(azimuth_deg) exactly.
ViewBasis orbitBasis(double azimuth_deg, double elevation_deg);
bool isSpinView(View view);   // the four views a spin passes through (not superior/inferior)
double spinAngleOf(View view);  // anterior 0, left 90, posterior 180, right 270; 0 for the others

// Orientation letters of an LPS direction (L/R, P/A, H/F): the components
// stronger than 0.25, at most two, strongest first. "" when none is.
std::string orientationLetters(const Vec3& direction);
// Letters at the frame's left, right, top and bottom edges for a view.
std::array<std::string, 4> edgeLetters(const ViewBasis& basis);

// Parallel scale (half the frame height in mm) at which the points, seen from
// every basis about `centre`, span at most `fill` of a frame of this aspect
// (width / height).
double parallelScale(const std::vector<Vec3>& points, const Vec3& centre, const std::vector<ViewBasis>& bases,
                     double aspect, double fill);

}  // namespace volnode::render
