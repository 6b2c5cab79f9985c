#include "json_views.hpp"

#include <cctype>
#include <chrono>
#include <map>

#include "volnode/core/clock.hpp"

namespace volnode {

nlohmann::json toJson(const StudySummary& s) {
  return {
      {"StudyInstanceUID", s.study_uid},
      {"StudyDate", s.study_date},
      {"StudyTime", s.study_time},
      {"AccessionNumber", s.accession_number},
      {"StudyID", s.study_id},
      {"StudyDescription", s.study_description},
      {"ReferringPhysicianName", s.referring_physician},
      {"PatientID", s.patient_id},
      {"IssuerOfPatientID", s.issuer_of_patient_id},
      {"PatientName", s.patient_name},
      {"PatientBirthDate", s.patient_birth_date},
      {"PatientSex", s.patient_sex},
      {"ModalitiesInStudy", s.modalities},
      {"series", s.series_count},
      {"instances", s.instances},
      {"first_received", s.first_received},
      {"last_received", s.last_received},
  };
}

nlohmann::json toJson(const SeriesSummary& s) {
  return {
      {"SeriesInstanceUID", s.series_uid},
      {"StudyInstanceUID", s.study_uid},
      {"Modality", s.modality},
      {"SeriesDescription", s.series_description},
      {"SeriesNumber", s.series_number},
      {"BodyPartExamined", s.body_part},
      {"ProtocolName", s.protocol_name},
      {"FrameOfReferenceUID", s.frame_of_reference},
      {"calling_aet", s.calling_aet},
      {"instances", s.instances},
      {"conflicts", s.conflicts},
      {"first_received", s.first_received},
      {"last_received", s.last_received},
      {"state", toString(s.state)},
      {"state_reason", s.state_reason},
      {"state_time", s.state_time},
  };
}

nlohmann::json toJson(const SeriesTransition& t) {
  return {{"state", t.state}, {"reason", t.reason}, {"at", t.at}};
}

namespace {

nlohmann::json workersJson(const HealthReport& h) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& w : h.workers)
    out.push_back({{"name", w.name}, {"pid", w.pid}, {"job_id", w.job_id}, {"job_seconds", w.job_seconds}});
  return out;
}

}  // namespace

nlohmann::json toJson(const HealthReport& h, const IndexCounts& c) {
  bool disk_ok = h.accepting_instances;
  // Indexed files that are missing need an operator even while everything else runs.
  bool store_ok = !h.recovery || !h.recovery->needsAttention();
  bool healthy = h.dicom_listening && disk_ok && store_ok && h.index_reachable;
  nlohmann::json out = {
      {"status", healthy ? "ok" : "degraded"},
      {"version", h.version},
      {"uptime_s", h.uptime_s},
      {"dicom",
       {{"listening", h.dicom_listening},
        {"aet", h.dicom_aet},
        {"port", h.dicom_port},
        {"bind", h.dicom_bind},
        {"tls", h.dicom_tls},
        {"active_associations", h.active_associations},
        {"associations_total", h.associations_total},
        {"associations_refused", h.associations_refused},
        {"error", h.dicom_error}}},
      {"storage",
       {{"dir", h.storage_dir},
        {"disk_free_mb", h.disk_free_mb},
        {"min_free_mb", h.min_free_mb},
        {"accepting_instances", h.accepting_instances},
        {"reason", h.not_accepting_reason}}},
      {"render",
       {{"workers", h.render_workers},
        {"busy", h.render_workers_busy},
        {"backend", h.render_backend},
        {"worker_processes", workersJson(h)},
        {"worker_deaths", h.worker_deaths},
        {"worker_timeouts", h.worker_timeouts},
        {"jobs_failed_by_crashes", h.jobs_failed_by_crashes},
        {"display_state", h.display_state},
        {"display", h.display}}},
      {"index",
       {{"patients", c.patients},
        {"studies", c.studies},
        {"series", c.series},
        {"instances", c.instances},
        {"bytes", c.bytes},
        {"instances_today", c.instances_today},
        {"reachable", h.index_reachable},
        {"error", h.index_error},
        {"instances_unsettled", h.instances_unsettled}}},
  };
  if (h.recovery) {
    const auto& r = *h.recovery;
    out["recovery"] = {{"summary", r.summary()},
                       {"files", r.files},
                       {"indexed", r.indexed},
                       {"incomplete_removed", r.incomplete_removed},
                       {"empty_slots_removed", r.empty_slots_removed},
                       {"forgotten_slots", r.forgotten_slots},
                       {"peer_slots", r.peer_slots},
                       {"missing_count", r.missing_count},
                       {"missing", r.missing},
                       {"left_in_place", r.left_in_place},
                       {"foreign", r.foreign},
                       {"seconds", r.seconds}};
  }
  return out;
}

nlohmann::json toJson(const Job& j) {
  nlohmann::json payload = nlohmann::json::parse(j.payload, nullptr, false);
  if (payload.is_discarded()) payload = j.payload;
  return {
      {"id", j.id},
      {"kind", toString(j.kind)},
      {"state", toString(j.state)},
      {"crashes", j.crashes},
      {"StudyInstanceUID", j.study_uid},
      {"SeriesInstanceUID", j.series_uid},
      {"rule", j.rule},
      {"destination", j.destination},
      {"priority", j.priority},
      {"attempts", j.attempts},
      {"max_attempts", j.max_attempts},
      {"not_before", j.not_before},
      {"worker", j.lease_owner},
      {"last_error", j.last_error},
      {"warning", j.warning},
      {"progress", {{"stage", j.progress_stage}, {"percent", j.progress_percent}}},
      {"payload", payload},
      {"created_at", j.created_at},
      {"updated_at", j.updated_at},
      {"started_at", j.started_at},
      {"finished_at", j.finished_at},
      {"can_retry", canRetry(j.state)},
      {"can_cancel", canCancel(j.state)},
  };
}

nlohmann::json toJson(const JobEvent& e) {
  return {{"job_id", e.job_id}, {"state", e.state}, {"message", e.message}, {"at", e.at}};
}

nlohmann::json toJson(const RecentError& e) {
  static const std::map<ErrorSource, const char*> kSources{
      {ErrorSource::Job, "job"}, {ErrorSource::Series, "series"}, {ErrorSource::Association, "association"}};
  return {{"at", e.at},
          {"what", kSources.at(e.source)},
          {"reason", e.reason},
          {"job_id", e.job_id},
          {"job_kind", e.job_kind ? std::string(toString(*e.job_kind)) : std::string()},
          {"StudyInstanceUID", e.study_uid},
          {"SeriesInstanceUID", e.series_uid},
          {"destination", e.destination},
          {"peer", e.peer}};
}

nlohmann::json jobCountsJson(const std::vector<std::pair<std::string, int64_t>>& counts_by_state) {
  nlohmann::json counts = nlohmann::json::object();
  for (auto state : {JobState::Queued, JobState::Running, JobState::Retry, JobState::Succeeded, JobState::Failed,
                     JobState::Canceled})
    counts[std::string(toString(state))] = 0;
  for (const auto& [state, n] : counts_by_state) counts[state] = n;
  return counts;
}

std::string urlEncode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

nlohmann::json toJson(const JobOutput& o) {
  bool written = !o.file_path.empty();
  return {
      {"job_id", o.job_id},
      {"output_key", o.output_key},
      {"kind", o.kind},
      {"preset", o.preset},
      {"SeriesInstanceUID", o.series_uid},
      {"SOPInstanceUID", o.sop_uid},
      {"SeriesNumber", o.series_number},
      {"SeriesDescription", o.description},
      {"SOPClassUID", o.sop_class_uid},
      {"file_size", o.file_size},
      {"frames", o.frames},
      {"written", written},
      {"url", written ? "/api/jobs/" + std::to_string(o.job_id) + "/files/dicom/" + urlEncode(o.sop_uid) : ""},
  };
}

nlohmann::json toJson(const DestinationStatus& d) {
  return {{"name", d.name},           {"aet", d.aet},           {"host", d.host},  {"port", d.port},
          {"reachable", d.reachable}, {"checked_at", d.checked_at}, {"error", d.error}, {"tls", d.tls}};
}

nlohmann::json toJson(const ClusterMember& m) {
  auto iso = [](double unix_s) {
    return isoUtc(SystemTime(std::chrono::duration_cast<SystemTime::duration>(std::chrono::duration<double>(unix_s))));
  };
  return {{"id", m.id},
          {"role", m.info.role},
          {"host", m.info.host},
          {"pid", m.info.pid},
          {"state", m.stale ? "stale" : "alive"},
          {"started_at", iso(m.started_at)},
          {"heartbeat_at", iso(m.heartbeat_at)},
          {"heartbeat_age_s", m.heartbeat_age_s},
          {"heartbeat_s", m.info.heartbeat_s},
          {"workers", m.info.workers},
          {"current_jobs", m.current_jobs},
          {"detail", m.info.detail},
          {"node", m.info.node}};
}

}  // namespace volnode
