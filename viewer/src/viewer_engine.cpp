#include "volnode/viewer/viewer_engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <array>
#include <list>
#include <fstream>
#include <iterator>
#include <optional>

#include <fmt/format.h>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/render/presets.hpp"
#include "volnode/render/render.hpp"
#include "volnode/render/view_geometry.hpp"
#include "volnode/viewer/frame_encoding.hpp"
#include "volnode/viewer/mpr_slice.hpp"
#include "volnode/viewer/view_parameters.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/volume/preprocess.hpp"
#include "volnode/volume/volume_file.hpp"
#include "volnode/workflow/bone_removed_volume.hpp"
#include "volnode/workflow/render_annotation.hpp"

namespace volnode::viewer {
namespace {

using Clock = std::chrono::steady_clock;

double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

ViewerReply failure(int status, const std::string& message, const std::string& parameter = "") {
  ViewerReply reply;
  reply.status = status;
  reply.error = message;
  reply.parameter = parameter;
  return reply;
}

std::string joined(const std::array<std::string, 4>& parts) {
  return parts[0] + "," + parts[1] + "," + parts[2] + "," + parts[3];
}

std::string triple(const std::array<double, 3>& v) { return fmt::format("{:.4f},{:.4f},{:.4f}", v[0], v[1], v[2]); }

std::string defaultPreset(const std::string& modality) { return modality == "CT" ? "ct-bone" : "mr-mip"; }

// A series' volume as prepared, or (CT) the same with the bone removed, for presets
// that ask for it ("volume": "bone-removed").
enum class Variant { AsAcquired, BoneRemoved };

// The key under which a volume is held in memory and a renderer remembers it.
std::string volumeKey(const std::string& series_uid, Variant variant) {
  return variant == Variant::BoneRemoved ? series_uid + "#bone-removed" : series_uid;
}

}  // namespace

struct ViewerEngine::Impl {
  ViewerEngineSettings settings;
  Index& index;
  JobQueue& jobs;
  const RuleSet& rules;

  struct Held {
    std::string key;  // volumeKey()
    std::shared_ptr<const Volume> volume;
    size_t bytes = 0;
  };
  std::list<Held> held;  // most recently used first
  // One renderer for drafts and one for full frames: each keeps the grid made for
  // its pixel size, so alternating while dragging never rebuilds a grid.
  struct Renderer {
    std::unique_ptr<VolumeRenderer> renderer;
    std::string volume_key;  // the volume it holds (volumeKey())
  };
  std::array<Renderer, 2> renderers;  // [0] full, [1] draft

  // The full frame just answered, for the draft renderer to prepare.
  struct Ahead {
    SeriesSummary series;
    Variant variant = Variant::AsAcquired;
    RenderPreset preset;
    OrbitView orbit;
    RenderRequest frame;
  };
  std::optional<Ahead> ahead;

  // A series' first full frame (the page's first request) is followed by drafts as
  // soon as the user drags: the draft renderer builds its grid and first-render
  // gradients (hundreds of ms) now, while the user looks at that frame, rather
  // than inside the first draft. Once per series. (Not the other way round: a
  // full frame prepared after a draft would stall the drag that goes on.) When that
  // frame was the batch render's own file, the volume is opened here too; the full
  // renderer then pays its first render on the first full frame, when a drag ends
  // (while the last draft is on screen), not in the middle of the drag.
  void prepareAhead() {
    if (!ahead) return;
    const Ahead a = std::move(*ahead);
    ahead.reset();
    const std::string key = volumeKey(a.series.series_uid, a.variant);
    if (renderers[1].renderer && renderers[1].volume_key == key) return;
    try {
      std::string source;
      auto volume = volumeOf(a.series, a.variant, source);
      RenderRequest frame = a.frame;
      frame.width = frame.height = std::max(64, frame.width / 2);  // as view3d sizes a draft
      rendererFor(true, key, volume).renderOrbit(a.preset, a.orbit, frame);
    } catch (const std::exception& e) {
      moduleLogger("viewer")->warn("volume {}: preparing the renderers failed: {}", key, e.what());
    }
  }

  // The batch render's own spin frame, when the request asks for exactly that
  // picture (the spin's camera at one of its angles, full quality, render.size,
  // a preset the render made a spin of, not edited since): read from its file
  // instead of rendered, so a series' first frame needs neither its volume nor a
  // first render. Null otherwise.
  std::optional<ViewerReply> spinFrameFromDisk(const View3dParameters& p, const std::string& preset_name,
                                               const SeriesSummary& series) {
    if (p.draft || !p.isSpinCamera() || (p.size > 0 && p.size != settings.render.size)) return std::nullopt;
    const int frames = settings.render.spin_frames;
    if (frames <= 0) return std::nullopt;
    const double step = 360.0 / frames;
    const double angle = std::fmod(std::fmod(p.azimuth_deg, 360.0) + 360.0, 360.0);
    const long index = std::lround(angle / step);
    if (std::abs(index * step - angle) > 1e-6) return std::nullopt;
    const auto batch = latestRender(series.series_uid);
    if (!batch) return std::nullopt;
    const auto file = settings.results_root / std::to_string(batch->id) / "png" /
                      fmt::format("{}-spin-{:03d}.png", preset_name, index % frames);
    std::error_code ec;
    const auto written = std::filesystem::last_write_time(file, ec);
    if (ec) return std::nullopt;
    const auto preset_changed = std::filesystem::last_write_time(settings.presets_dir / (preset_name + ".json"), ec);
    if (ec || preset_changed > written) return std::nullopt;
    std::ifstream in(file, std::ios::binary);
    std::string png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) return std::nullopt;
    ViewerReply reply;
    try {
      const auto decoded = decodeImage(png);
      if (decoded.width != settings.render.size || decoded.height != settings.render.size) return std::nullopt;
      if (p.format == ImageFormat::Png) {
        reply.content_type = "image/png";
        reply.body = std::move(png);
      } else {
        auto encoded = encodeImage(decoded.pixels, decoded.width, decoded.height, decoded.channels, p.format, 90);
        reply.content_type = encoded.content_type;
        reply.body = std::move(encoded.bytes);
      }
    } catch (const Error&) {
      return std::nullopt;  // not a picture after all: rendered instead
    }
    reply.headers["X-Orientation-Letters"] = joined(render::edgeLetters(render::spinBasis(p.azimuth_deg)));
    return reply;
  }

  // The latest succeeded render of the series, whose prepared volume file and
  // rule the viewer shares.
  std::optional<Job> latestRender(const std::string& series_uid) {
    JobFilter filter;
    filter.series_uid = series_uid;
    filter.kind = JobKind::Render;
    filter.state = JobState::Succeeded;
    filter.limit = 1;
    auto found = jobs.list(filter);
    if (found.empty()) return std::nullopt;
    return found.front();
  }

  // A volume file the series' latest render kept (`name` in its results folder);
  // null when there is none or it cannot be read (then `otherwise` is done instead).
  std::shared_ptr<const Volume> keptVolume(const std::optional<Job>& render, const char* name,
                                           const std::string& series_uid, const char* otherwise) {
    if (!render) return nullptr;
    const auto file = settings.results_root / std::to_string(render->id) / name;
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return nullptr;
    try {
      return std::make_shared<const Volume>(readVolumeFile(file));
    } catch (const Error& e) {
      moduleLogger("viewer")->warn("series {}: {}; {}", series_uid, e.what(), otherwise);
      return nullptr;
    }
  }

  std::shared_ptr<const Volume> loadPrepared(const std::string& series_uid, std::string& source) {
    const auto render = latestRender(series_uid);
    if (auto kept = keptVolume(render, kPreparedVolumeFile, series_uid, "assembling it again")) {
      source = "disk";
      return kept;
    }
    source = "assembled";
    auto assembly = assembleSeries(index.seriesFilePaths(series_uid, settings.store_root));
    VolumeCandidate* best = nullptr;
    for (const auto* candidate : assembly.renderable())
      if (candidate->volume && (!best || candidate->source_frames > best->source_frames))
        best = const_cast<VolumeCandidate*>(candidate);
    if (!best) throw Error(Errc::NotAVolume, assembly.reason.empty() ? "no renderable volume" : assembly.reason);
    PreprocessOptions options;
    if (render)
      for (const auto& rule : rules.rules())
        if (rule.name == render->rule) options = rule.preprocess;
    return std::make_shared<const Volume>(preprocess(std::move(*best->volume), options).volume);
  }

  // The bone-removed volume: the one a CT angiogram's render job kept, else removed
  // here from the prepared volume (seconds, once: it is then held like any other).
  std::shared_ptr<const Volume> loadBoneRemoved(const SeriesSummary& series, std::string& source) {
    if (auto kept = keptVolume(latestRender(series.series_uid), kBoneRemovedVolumeFile, series.series_uid,
                               "removing the bone again")) {
      source = "disk";
      return kept;
    }
    std::string prepared_source;
    auto prepared = volumeOf(series, Variant::AsAcquired, prepared_source);
    const auto params = boneRemovalParamsFor(series.body_part, series.series_description + " " + series.protocol_name);
    source = "bone-removed-here";
    return std::make_shared<const Volume>(removeBone(*prepared, params).volume);
  }

  std::shared_ptr<const Volume> volumeOf(const SeriesSummary& series, Variant variant, std::string& source) {
    const std::string key = volumeKey(series.series_uid, variant);
    for (auto it = held.begin(); it != held.end(); ++it) {
      if (it->key != key) continue;
      held.splice(held.begin(), held, it);
      source = "memory";
      return held.front().volume;
    }
    auto volume = variant == Variant::BoneRemoved ? loadBoneRemoved(series, source)
                                                  : loadPrepared(series.series_uid, source);
    held.push_front({key, volume, volume->voxels.size() * sizeof(int16_t)});
    // Keep within the budget, but always the volume just opened.
    size_t total = 0;
    const size_t budget = size_t(settings.memory_mb) << 20;
    for (auto it = held.begin(); it != held.end();) {
      total += it->bytes;
      if (it != held.begin() && total > budget) {
        total -= it->bytes;
        for (auto& r : renderers)
          if (r.volume_key == it->key) r = {};
        it = held.erase(it);
      } else {
        ++it;
      }
    }
    return volume;
  }

  // Drafts trade detail for time: coarser grid and ray spacing (they are shown while
  // the image moves and replaced by a full frame when it stops).
  std::unique_ptr<VolumeRenderer> makeRenderer(bool draft) const {
    VolumeRenderer::Options options;
    options.backend = parseRenderBackend(settings.render.backend);
    if (draft) {
      options.downsample_ratio = 4;
      options.max_image_sample_distance = 3;
    }
    return std::make_unique<VolumeRenderer>(options);
  }

  VolumeRenderer& rendererFor(bool draft, const std::string& volume_key, const std::shared_ptr<const Volume>& volume) {
    Renderer& r = renderers[draft ? 1 : 0];
    if (!r.renderer) r.renderer = makeRenderer(draft);
    if (r.volume_key != volume_key) {
      r.renderer->setVolume(volume);
      r.volume_key = volume_key;
    }
    return *r.renderer;
  }

  // `always_render`: for opening the series ahead, never the batch render's file.
  ViewerReply view3d(const ViewerRequest& request, const SeriesSummary& series, bool always_render = false) {
    const auto p = parseView3dParameters(request.params);
    const auto start = Clock::now();
    const std::string preset_name = p.preset.empty() ? defaultPreset(series.modality) : p.preset;
    RenderPreset preset;
    try {
      preset = loadPreset(settings.presets_dir, preset_name);
    } catch (const Error&) {
      return failure(400, "preset: no preset named '" + preset_name + "'", "preset");
    }
    if (preset.bone_removed && series.modality != "CT")
      return failure(400, "preset: '" + preset_name + "' renders a CT with the bone removed; this series is " +
                              (series.modality.empty() ? "not a CT" : series.modality), "preset");
    const Variant variant = preset.bone_removed ? Variant::BoneRemoved : Variant::AsAcquired;
    RenderRequest frame;
    frame.views.clear();
    frame.spin_frames = settings.render.spin_frames;  // the spin's framing
    const int size = p.size > 0 ? p.size : settings.render.size;
    frame.width = frame.height = p.draft ? std::max(64, size / 2) : size;
    if (auto study = index.study(series.study_uid)) {
      bool identifiers = false;
      frame.annotation = expandAnnotation(settings.render.annotation, *study, series, &identifiers);
      frame.annotation_has_identifiers = identifiers;
    }
    OrbitView orbit;
    orbit.azimuth_deg = p.azimuth_deg;
    orbit.elevation_deg = p.elevation_deg;
    orbit.zoom = p.zoom;
    orbit.pan_x = p.pan_x;
    orbit.pan_y = p.pan_y;
    orbit.shift = p.shift;
    if (p.clip)
      orbit.clip_box = std::array<double, 6>{p.clip->min[0], p.clip->max[0], p.clip->min[1],
                                             p.clip->max[1], p.clip->min[2], p.clip->max[2]};
    if (p.clip_plane)
      orbit.clip_plane = std::array<double, 6>{p.clip_plane->point[0],  p.clip_plane->point[1],
                                               p.clip_plane->point[2],  p.clip_plane->normal[0],
                                               p.clip_plane->normal[1], p.clip_plane->normal[2]};
    if (!always_render)
      if (auto from_disk = spinFrameFromDisk(p, preset_name, series)) {
        from_disk->headers["X-Preset"] = preset.name;
        from_disk->headers["X-Volume-Source"] = "spin-frame";
        from_disk->headers["X-Volume"] = variant == Variant::BoneRemoved ? "bone-removed" : "as-acquired";
        from_disk->headers["Server-Timing"] = fmt::format("file;dur={:.1f}", millisecondsSince(start));
        ahead = Ahead{series, variant, preset, orbit, frame};
        return std::move(*from_disk);
      }
    std::string source;
    auto volume = volumeOf(series, variant, source);
    const double open_ms = millisecondsSince(start);
    const auto render_start = Clock::now();
    VolumeRenderer& renderer = rendererFor(p.draft, volumeKey(request.series_uid, variant), volume);
    renderer.resetTimings();
    auto rendered = renderer.renderOrbit(preset, orbit, frame);
    const double render_ms = millisecondsSince(render_start);
    // The renderer's own stages (grid, first render with its gradients, ...) show where a slow frame went.
    std::string render_stages;
    for (const auto& [stage, seconds] : renderer.timings().stages)
      render_stages += fmt::format(", render-{};dur={:.1f}", stage, seconds * 1000);
    // After a full frame the draft renderer gets this scene too, once the reply is out (prepareAhead).
    if (!p.draft) ahead = Ahead{series, variant, preset, orbit, frame};
    const auto encode_start = Clock::now();
    auto encoded = encodeFrame(rendered, p.format, p.draft ? 75 : 90);
    ViewerReply reply;
    reply.content_type = encoded.content_type;
    reply.body = std::move(encoded.bytes);
    reply.headers["X-Orientation-Letters"] = joined(rendered.edge_letters);
    reply.headers["X-Preset"] = preset.name;
    reply.headers["X-Volume-Source"] = source;
    reply.headers["X-Volume"] = variant == Variant::BoneRemoved ? "bone-removed" : "as-acquired";
    reply.headers["Server-Timing"] = fmt::format("open;dur={:.1f}, render;dur={:.1f}, encode;dur={:.1f}{}", open_ms,
                                                 render_ms, millisecondsSince(encode_start), render_stages);
    return reply;
  }

  // A series whose batch render just finished, before anyone asks: its volume is
  // read and the full and draft renderers get its default preset's scene (the
  // volume's gradients, VTK's first render), so the first frame a user asks for
  // is a warm one. The full frame is what view3d answers without parameters.
  ViewerReply prepare(const ViewerRequest& request, const SeriesSummary& series) {
    ViewerRequest first{"view3d", request.series_uid, {}};
    auto reply = view3d(first, series, true);
    // The draft renderer too, before answering: the pool counts this worker as free
    // once it has answered, and a user's first frame must not wait behind it.
    prepareAhead();
    reply.content_type.clear();
    reply.body.clear();
    return reply;
  }

  ViewerReply slice(const ViewerRequest& request, const SeriesSummary& series) {
    const auto p = parseSliceParameters(request.params);
    std::string source;
    auto volume = volumeOf(series, Variant::AsAcquired, source);
    auto image = reformatSlice(*volume, p);
    auto encoded = encodeImage(image.pixels, image.width, image.height, 1, p.format);
    ViewerReply reply;
    reply.content_type = encoded.content_type;
    reply.body = std::move(encoded.bytes);
    reply.headers["X-Orientation-Letters"] = joined(image.edge_letters);
    reply.headers["X-Slice-Origin"] = triple(image.origin);
    reply.headers["X-Slice-Right"] = triple(image.right);
    reply.headers["X-Slice-Down"] = triple(image.down);
    reply.headers["X-Slice-Normal"] = triple(image.normal);
    reply.headers["X-Slice-Pixel-Spacing"] = fmt::format("{:.5f}", image.pixel_mm);
    reply.headers["X-Slice-Position"] = fmt::format("{:.3f}", image.position_mm);
    reply.headers["X-Slice-Window"] = fmt::format("{:.1f},{:.1f}", image.window[0], image.window[1]);
    reply.headers["X-Volume-Source"] = source;
    return reply;
  }
};

ViewerEngine::ViewerEngine(ViewerEngineSettings settings, Index& index, JobQueue& jobs, const RuleSet& rules)
    : impl_(std::make_unique<Impl>(Impl{std::move(settings), index, jobs, rules, {}, {}, {}})) {}

ViewerEngine::~ViewerEngine() = default;

ViewerReply ViewerEngine::handle(const ViewerRequest& request) {
  try {
    auto series = impl_->index.series(request.series_uid);
    if (!series) return failure(404, "no series with SeriesInstanceUID " + request.series_uid);
    if (request.kind == "view3d") return impl_->view3d(request, *series);
    if (request.kind == "slice") return impl_->slice(request, *series);
    if (request.kind == "prepare") return impl_->prepare(request, *series);
    return failure(400, "unknown viewer request '" + request.kind + "'");
  } catch (const ParameterError& e) {
    return failure(400, e.what(), e.parameter());
  } catch (const Error& e) {
    if (e.code() == Errc::NotAVolume)
      return failure(422, "series " + request.series_uid + " is not a volume: " + e.what());
    if (e.code() == Errc::Unsupported) return failure(501, e.what());
    moduleLogger("viewer")->error("series {}: {} failed: {}", request.series_uid, request.kind, e.what());
    return failure(500, std::string("the viewer could not answer: ") + e.what());
  } catch (const std::exception& e) {
    moduleLogger("viewer")->error("series {}: {} failed: {}", request.series_uid, request.kind, e.what());
    return failure(500, std::string("the viewer could not answer: ") + e.what());
  }
}

void ViewerEngine::warmUp() {
  for (bool draft : {false, true})
    if (!impl_->renderers[draft ? 1 : 0].renderer) impl_->renderers[draft ? 1 : 0].renderer = impl_->makeRenderer(draft);
}

void ViewerEngine::prepareAhead() { impl_->prepareAhead(); }

void ViewerEngine::release() {
  impl_->renderers = {};
  impl_->held.clear();
  impl_->ahead.reset();
  warmUp();  // fresh render windows (without volumes), so the next first frame does not wait for them
}

size_t ViewerEngine::volumesHeld() const { return impl_->held.size(); }

}  // namespace volnode::viewer
