// Result routing: a succeeded render's send jobs go to the destinations its rule
// names that are configured; "reply_to_sender" is the one whose AE title sent the series.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "volnode/workflow/result_routing.hpp"

namespace volnode {
namespace {

RuleSet rules() {
  return RuleSet::parse(R"({"schema": 1, "rules": [
  {"name": "to-pacs-and-back", "match": {"modality": ["CT"]},
   "outputs": [{"type": "vr_spin", "preset": "ct-bone"}], "destinations": ["pacs", "reply_to_sender", "archive"]},
  {"name": "back-only", "match": {"modality": ["MR"]},
   "outputs": [{"type": "vr_spin", "preset": "ct-bone"}], "destinations": ["reply_to_sender"]}
]})");
}

Destination destination(const std::string& name, const std::string& aet) {
  Destination d;
  d.name = name;
  d.aet = aet;
  d.host = "127.0.0.1";
  return d;
}

const std::map<std::string, Destination> kDestinations{{"pacs", destination("pacs", "PACS")},
                                                       {"ct-console", destination("ct-console", "CT_SCANNER_7")}};

Job render(const std::string& rule) {
  Job job;
  job.id = 42;
  job.kind = JobKind::Render;
  job.study_uid = "1.2.3";
  job.series_uid = "1.2.3.4";
  job.rule = rule;
  job.priority = 10;
  return job;
}

SeriesSummary sentBy(const std::string& calling_aet) {
  SeriesSummary series;
  series.series_uid = "1.2.3.4";
  series.study_uid = "1.2.3";
  series.calling_aet = calling_aet;
  return series;
}

std::vector<std::string> destinationsOf(const std::vector<NewJob>& sends) {
  std::vector<std::string> names;
  for (const auto& send : sends) names.push_back(send.destination);
  return names;
}

TEST(ResultRouting, ReplyToSenderIsTheDestinationWhoseAeTitleSentTheSeries) {
  auto sends = sendJobsFor(render("to-pacs-and-back"), rules(), sentBy("CT_SCANNER_7"), kDestinations, 5);
  EXPECT_EQ(destinationsOf(sends), (std::vector<std::string>{"pacs", "ct-console"}))
      << "\"archive\" is not configured: left out";
  for (const auto& send : sends) {
    EXPECT_EQ(send.kind, JobKind::Send);
    EXPECT_EQ(send.study_uid, "1.2.3");
    EXPECT_EQ(send.series_uid, "1.2.3.4");
    EXPECT_EQ(send.rule, "to-pacs-and-back");
    EXPECT_EQ(send.priority, 10) << "an on-demand render's results keep its priority";
    EXPECT_EQ(send.max_attempts, 5);
    EXPECT_EQ(nlohmann::json::parse(send.payload).value("render_job", 0), 42);
  }
}

TEST(ResultRouting, ASenderThatIsNoDestinationGetsNothingBack) {
  EXPECT_EQ(destinationsOf(sendJobsFor(render("to-pacs-and-back"), rules(), sentBy("UNKNOWN_AE"), kDestinations, 5)),
            (std::vector<std::string>{"pacs"}));
  EXPECT_TRUE(sendJobsFor(render("back-only"), rules(), sentBy("UNKNOWN_AE"), kDestinations, 5).empty());
  EXPECT_TRUE(sendJobsFor(render("back-only"), rules(), std::nullopt, kDestinations, 5).empty())
      << "a series no longer in the index has no sender";
  EXPECT_EQ(destinationsOf(sendJobsFor(render("back-only"), rules(), sentBy("PACS"), kDestinations, 5)),
            (std::vector<std::string>{"pacs"}));
}

TEST(ResultRouting, ARuleThatIsNotLoadedSendsNothing) {
  EXPECT_TRUE(sendJobsFor(render("removed-rule"), rules(), sentBy("CT_SCANNER_7"), kDestinations, 5).empty());
}

}  // namespace
}  // namespace volnode
