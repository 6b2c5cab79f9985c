#include "volnode/storage/states.hpp"

#include <array>
#include <utility>

namespace volnode {
namespace {

constexpr std::array<std::pair<SeriesState, std::string_view>, 9> kSeriesStates{{
    {SeriesState::Receiving, "receiving"},
    {SeriesState::Complete, "complete"},
    {SeriesState::Queued, "queued"},
    {SeriesState::Processing, "processing"},
    {SeriesState::Done, "done"},
    {SeriesState::Refused, "refused"},
    {SeriesState::Failed, "failed"},
    {SeriesState::Canceled, "canceled"},
    {SeriesState::Indexed, "indexed"},
}};

constexpr std::array<std::pair<JobState, std::string_view>, 6> kJobStates{{
    {JobState::Queued, "queued"},
    {JobState::Running, "running"},
    {JobState::Retry, "retry"},
    {JobState::Succeeded, "succeeded"},
    {JobState::Failed, "failed"},
    {JobState::Canceled, "canceled"},
}};

constexpr std::array<std::pair<JobKind, std::string_view>, 4> kJobKinds{{
    {JobKind::Route, "route"},
    {JobKind::Render, "render"},
    {JobKind::Send, "send"},
    {JobKind::Retrieve, "retrieve"},
}};

template <typename Enum, size_t N>
std::string_view nameOf(const std::array<std::pair<Enum, std::string_view>, N>& table, Enum value) noexcept {
  for (const auto& [e, name] : table)
    if (e == value) return name;
  return "?";
}

template <typename Enum, size_t N>
std::optional<Enum> parse(const std::array<std::pair<Enum, std::string_view>, N>& table, std::string_view text) noexcept {
  for (const auto& [e, name] : table)
    if (name == text) return e;
  return std::nullopt;
}

}  // namespace

std::string_view toString(SeriesState state) noexcept { return nameOf(kSeriesStates, state); }
std::string_view toString(JobState state) noexcept { return nameOf(kJobStates, state); }
std::string_view toString(JobKind kind) noexcept { return nameOf(kJobKinds, kind); }

std::optional<SeriesState> parseSeriesState(std::string_view text) noexcept { return parse(kSeriesStates, text); }
std::optional<JobState> parseJobState(std::string_view text) noexcept { return parse(kJobStates, text); }
std::optional<JobKind> parseJobKind(std::string_view text) noexcept { return parse(kJobKinds, text); }

bool seriesTransitionAllowed(SeriesState from, SeriesState to) noexcept {
  using S = SeriesState;
  if (to == S::Receiving) return from != S::Receiving;  // a late instance reopens any series
  switch (from) {
    case S::Receiving:
      return to == S::Complete;
    case S::Complete:
      return to == S::Queued || to == S::Refused || to == S::Failed || to == S::Canceled;
    case S::Queued:
      return to == S::Processing || to == S::Canceled || to == S::Failed || to == S::Complete;
    case S::Processing:
      return to == S::Done || to == S::Refused || to == S::Failed || to == S::Queued || to == S::Canceled ||
             to == S::Complete;
    case S::Done:
    case S::Refused:
    case S::Failed:
    case S::Canceled:
      return to == S::Queued || to == S::Complete;
    case S::Indexed:
      return to == S::Complete;
  }
  return false;
}

bool isActive(JobState state) noexcept {
  return state == JobState::Queued || state == JobState::Running || state == JobState::Retry;
}
bool canCancel(JobState state) noexcept { return isActive(state); }
bool canRetry(JobState state) noexcept {
  return state == JobState::Failed || state == JobState::Canceled || state == JobState::Retry;
}

}  // namespace volnode
