// The meetings example's rules with the test kit: scheduling's validation against a pinned clock,
// and what a meeting accepts in each status; no runtime, no store.
#include <doctest/doctest.h>

#include <cairn/testing.hpp>

#include "examples/meetings/meeting.hpp"

using cairn::testing::spec;
using namespace meetings;

namespace {

// 2030-01-01T09:00:00Z as "now", so that the 5-minute boundary is exact.
cairn::Timestamp pinned_clock() { return cairn::parse_time("2030-01-01T09:00:00Z"); }

auto meeting() { return spec(meeting_actor(pinned_clock), "meeting-1"); }
auto scheduled() { return meeting().given(Scheduled{"olga", "2030-01-01T10:00:00.000000Z", {1, 2, 3}}); }
auto in_status(const char* status) {
  if (std::string(status) == "cancelled") return scheduled().given(Cancelled{"ill", {1, 2, 3}});
  return scheduled().given(Finished{});
}

Schedule schedule(std::string starts_at, std::vector<int64_t> invitees = {1, 2}) {
  return {"olga", std::move(starts_at), std::move(invitees)};
}

}  // namespace

TEST_CASE("meetings: each invalid field of a schedule is a rejection naming it") {
  meeting().when(Schedule{"", "2030-01-01T10:00:00Z", {1}}).then_rejected("organizer_missing", "organizer must not be empty");
  meeting().when(schedule("2030-01-01T10:00:00Z", {})).then_rejected("invitees_missing", "invitees must not be empty");
  meeting()
      .when(schedule("2030-01-01T10:00:00Z", {1, 2, 1}))
      .then_rejected("invitees_repeated", "invitees must not repeat a user id");
  meeting().when(schedule("soon")).then_rejected("starts_at_invalid", "starts_at must be an ISO 8601 time, got 'soon'");
  meeting().when(schedule("2030-01-01T08:00:00Z")).then_rejected("starts_at_too_soon", "at least 5 minutes ahead");
  meeting().when(schedule("2030-01-01T09:04:59Z")).then_rejected("starts_at_too_soon", "at least 5 minutes ahead");
}

TEST_CASE("meetings: exactly 5 minutes ahead is enough, and the time is stored in UTC") {
  auto m = meeting();
  m.when(schedule("2030-01-01T10:05:00+01:00")).then(Scheduled{"olga", "2030-01-01T09:05:00.000000Z", {1, 2}});
  CHECK(m.state().status == "scheduled");
  m.when(schedule("2030-01-01T12:00:00Z")).then_rejected("meeting_exists", "the meeting is already scheduled");
}

TEST_CASE("meetings: against the system clock, a minute ahead is too soon and an hour is fine") {
  auto ahead = [](auto by) { return cairn::format_time(cairn::now() + by); };
  spec(meeting_actor()).when(schedule(ahead(std::chrono::minutes(1)))).then_rejected("starts_at_too_soon", "");
  auto in_an_hour = ahead(std::chrono::hours(1));
  spec(meeting_actor()).when(schedule(in_an_hour)).then(Scheduled{"olga", in_an_hour, {1, 2}});
}

TEST_CASE("meetings: nothing but scheduling before a meeting is scheduled") {
  meeting().when(Accept{1}).then_rejected("meeting_not_scheduled", "the meeting is not scheduled");
  meeting().when(Reschedule{"2030-01-02T09:00:00Z"}).then_rejected("meeting_not_scheduled", "");
  meeting().when(Finish{}).then_rejected("meeting_not_scheduled", "");
  meeting().when(Cancel{"no reason"}).then_rejected("meeting_not_scheduled", "");
}

TEST_CASE("meetings: invitees accept once, and a move keeps who accepted") {
  scheduled().when(Accept{9}).then_rejected("not_invited", "user 9 is not invited");
  auto m = scheduled();
  m.when(Accept{2}).then(Accepted{2});
  m.when(Accept{2}).then_nothing();  // accepting twice changes nothing
  m.when(Reschedule{"2030-01-01T09:01:00Z"}).then_rejected("starts_at_too_soon", "");
  m.when(Reschedule{"2030-01-01T11:30:00Z"}).then(Rescheduled{"2030-01-01T11:30:00.000000Z", {1, 2, 3}});
  CHECK(m.state().starts_at == "2030-01-01T11:30:00.000000Z");
  CHECK(m.state().accepted == std::set<int64_t>{2});
  m.when(Cancel{"olga is ill"}).then(Cancelled{"olga is ill", {1, 2, 3}});
  CHECK(m.state().status == "cancelled");
}

TEST_CASE("meetings: a cancelled or finished meeting takes nothing more") {
  for (const char* status : {"cancelled", "finished"}) {
    const std::string code = std::string("meeting_") + status, text = std::string("the meeting is ") + status;
    in_status(status).when(Accept{1}).then_rejected(code, text);
    in_status(status).when(Reschedule{"2030-01-02T09:00:00Z"}).then_rejected(code, text);
    in_status(status).when(Finish{}).then_rejected(code, text);
    in_status(status).when(Cancel{"again"}).then_rejected(code, text);
    in_status(status).when(schedule("2030-01-02T09:00:00Z")).then_rejected("meeting_exists", "the meeting is already " + std::string(status));
    CHECK(in_status(status).state().status == status);
  }
  scheduled().when(Finish{}).then(Finished{});
}
