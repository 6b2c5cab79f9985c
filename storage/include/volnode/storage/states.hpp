#pragma once
// The states of a series and of a job, the kinds of job, and the one table of
// the series transitions the node allows. The schema holds the same names in
// CHECK constraints (storage/sql/005_typed_states.sql, 006_retrieve_jobs.sql), so a state that is not
// listed here can be neither written by code nor by hand.
//
// A series:
//   receiving -> complete            completion decided it has all its instances
//   complete  -> queued | refused    routed: a render job was queued, or the rules said no
//   queued    -> processing          a worker started its render job
//   processing-> done | refused | failed | queued (retried)
//   queued/processing/complete -> canceled   the operator canceled its job
//   done/refused/failed/canceled -> queued | complete   rendered again, or routed again
//   indexed   -> complete            rebuilt by `volnode reindex`, routed when someone asks
//   any       -> receiving           a late instance arrived
// A job:
//   queued -> running -> succeeded | failed | retry(not_before) | canceled
#include <optional>
#include <string>
#include <string_view>

namespace volnode {

enum class SeriesState { Receiving, Complete, Queued, Processing, Done, Refused, Failed, Canceled, Indexed };
enum class JobState { Queued, Running, Retry, Succeeded, Failed, Canceled };
// route: decide from the series' headers whether and how to render it (worker);
// render: build the volume and the results (worker); send: deliver results (node);
// retrieve: C-MOVE a study or a series from a peer to this node (node).
enum class JobKind { Route, Render, Send, Retrieve };

std::string_view toString(SeriesState state) noexcept;
std::string_view toString(JobState state) noexcept;
std::string_view toString(JobKind kind) noexcept;

std::optional<SeriesState> parseSeriesState(std::string_view text) noexcept;
std::optional<JobState> parseJobState(std::string_view text) noexcept;
std::optional<JobKind> parseJobKind(std::string_view text) noexcept;

// The series transitions the node makes; every other one is refused.
bool seriesTransitionAllowed(SeriesState from, SeriesState to) noexcept;

// A job that is still to run or running (a worker may yet change its series).
bool isActive(JobState state) noexcept;
// What an operator may do with a job in this state.
bool canCancel(JobState state) noexcept;
bool canRetry(JobState state) noexcept;

}  // namespace volnode
