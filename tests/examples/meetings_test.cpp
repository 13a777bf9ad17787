// The meetings example on the backend under test (its rules are specified in meetings_spec.cpp):
// refusals store nothing, payloads that do not decode, e-mails that a reset group does not send
// again; on PostgreSQL also its tables, rebuilt identically.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include <pqxx/pqxx>

#include "examples/meetings/meeting.hpp"
#include <cairn/runtime.hpp>
#include "tests/support/backend.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/runtimes.hpp"

using namespace cairn;
using cairn::testing::backend_is_postgres;
using cairn::testing::eventually;

namespace {

// What the notifier would have sent, in order; handlers of distinct meetings call it concurrently.
class Outbox {
 public:
  void send(const meetings::Email& mail) {
    std::lock_guard lock(mutex_);
    sent_.push_back(mail);
  }
  std::vector<meetings::Email> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  size_t size() const { return sent().size(); }

 private:
  mutable std::mutex mutex_;
  std::vector<meetings::Email> sent_;
};

// The database outlives each test and these tables are not Cairn's, so fresh_backend_url() keeps them.
void drop_tables(const std::string& url) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec0("DROP TABLE IF EXISTS public.meetings, public.meeting_attendees");
  tx.commit();
}

struct Meetings {
  std::string url = testing::fresh_backend_url();
  std::shared_ptr<Outbox> outbox = std::make_shared<Outbox>();
  std::unique_ptr<Runtime> runtime;

  explicit Meetings(meetings::Clock clock = cairn::now) {
    runtime = testing::backend_runtime(url);
    runtime->add(meetings::meeting_actor(std::move(clock)));
    runtime->add(meetings::email_notifications([box = outbox](const meetings::Email& m) { box->send(m); }));
    // The SQL projector needs the PostgreSQL store.
    if (backend_is_postgres()) {
      drop_tables(url);
      runtime->add(meetings::tables_projector());
      runtime->migrate();
    }
  }

  template <class Command>
  void ok(const std::string& meeting, const Command& command) {
    auto result = runtime->handle(meeting, command);
    INFO(meeting << ": " << result.error);
    REQUIRE(result.ok());
  }
  HandleResult raw(const std::string& meeting, const std::string& type, Json payload) {
    return runtime->handle(meeting, make_message(meeting, type, std::move(payload)));
  }
  meetings::Meeting state(const std::string& meeting) { return runtime->load<meetings::Meeting>(meeting); }
};

// 2030-01-01T09:00:00Z as "now", so that the 5-minute boundary is exact.
const Timestamp pinned_now = parse_time("2030-01-01T09:00:00Z");
Timestamp pinned_clock() { return pinned_now; }

std::string from_now(std::chrono::seconds ahead) { return format_time(now() + ahead); }

meetings::Schedule schedule(std::string starts_at, std::vector<int64_t> invitees = {1, 2}) {
  return {"olga", std::move(starts_at), {std::move(invitees)}};
}

}  // namespace

TEST_CASE("a refused schedule appends nothing; the stored meeting has its time in UTC") {
  Meetings m(pinned_clock);
  const std::string id = "meeting-1";
  auto refused = m.runtime->handle(id, schedule("2030-01-01T09:04:59Z"));
  CHECK(refused.status == HandleResult::Status::rejected);
  CHECK(refused.rejection_code == "starts_at_too_soon");
  CHECK(refused.error == "starts_at must be at least 5 minutes ahead");
  CHECK(m.runtime->store().head_seq(id) == 0);

  auto result = m.runtime->handle(id, schedule("2030-01-01T10:05:00+01:00"));
  REQUIRE(result.ok());
  REQUIRE(result.events.size() == 1);
  CHECK(result.events[0].type == "meetings.scheduled");
  CHECK(m.runtime->state_json(id) == Json{{"status", "scheduled"},
                                          {"organizer", "olga"},
                                          {"starts_at", "2030-01-01T09:05:00.000000Z"},
                                          {"invitees", {1, 2}},
                                          {"accepted", Json::array()}});
  m.ok(id, meetings::Accept{1});
  m.ok(id, meetings::Accept{1});
  CHECK(m.runtime->store().head_seq(id) == 2 + 2 + 1);  // accepting twice stores the command, and no event
}

TEST_CASE("invitees that are not integers fail decoding with an error naming the field") {
  Meetings m;
  const std::string id = "meeting-bad";
  auto starts = from_now(std::chrono::hours(1));
  for (const auto& invitees : {Json{"bob"}, Json{1.5}, Json{true}, Json{1, nullptr}, Json("1,2"), Json(7)}) {
    auto result = m.raw(id, "meetings.schedule", {{"organizer", "olga"}, {"starts_at", starts}, {"invitees", invitees}});
    INFO("invitees " << invitees.dump() << ": " << result.error);
    CHECK(result.status == HandleResult::Status::invalid);
    CHECK(result.error.find("meetings.schedule: field 'invitees' ") != std::string::npos);
  }
  auto missing = m.raw(id, "meetings.schedule", {{"organizer", "olga"}, {"starts_at", starts}});
  CHECK(missing.status == HandleResult::Status::invalid);
  CHECK(missing.error == "meetings.schedule: missing field 'invitees'");
  CHECK(m.runtime->store().head_seq(id) == 0);

  CHECK(m.raw(id, "meetings.schedule", {{"organizer", "olga"}, {"starts_at", starts}, {"invitees", {3, 4}}}).ok());
  auto accept = m.raw(id, "meetings.accept", {{"user_id", "3"}});
  CHECK(accept.status == HandleResult::Status::invalid);
  CHECK(accept.error.find("meetings.accept: field 'user_id' has the wrong type") != std::string::npos);
}

namespace {

// Waits until `group` has handled every message of these meetings.
bool caught_up(Runtime& runtime, const std::string& group, const std::vector<std::string>& ids) {
  for (const auto& id : ids)
    if (!runtime.wait_for(group, id, runtime.store().head_seq(id), std::chrono::seconds(20))) return false;
  return true;
}

// The seqs the group has handled up to, summed over these meetings (each counts when all of it is).
int64_t handled(Runtime& runtime, const std::string& group, const std::vector<std::string>& ids) {
  int64_t sum = 0;
  for (const auto& id : ids) {
    auto head = runtime.store().head_seq(id);
    if (runtime.wait_for(group, id, head, std::chrono::milliseconds(0))) sum += head;
  }
  return sum;
}

// "to|subject|meeting#seq" per e-mail, sorted: handlers of distinct meetings run concurrently.
std::string mail_lines(const Outbox& outbox) {
  std::vector<std::string> lines;
  for (const auto& m : outbox.sent())
    lines.push_back(m.to + "|" + m.subject + "|" + m.meeting_id + "#" + std::to_string(m.seq) + "\n");
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& line : lines) out += line;
  return out;
}

}  // namespace

TEST_CASE("e-mails go out once per event, and not again when the group is reset and replayed") {
  Meetings m(pinned_clock);
  m.runtime->start_consumers(testing::quiet_workers());
  m.ok("meeting-a", schedule("2030-01-01T10:00:00Z", {1, 2}));  // seq 2
  m.ok("meeting-b", schedule("2030-01-01T11:00:00Z", {3}));     // seq 2
  m.ok("meeting-a", meetings::Accept{1});                        // seq 4, no mail
  m.ok("meeting-a", meetings::Reschedule{"2030-01-01T10:30:00Z"});  // seq 6
  m.ok("meeting-b", meetings::Cancel{"room flooded"});           // seq 4
  const std::vector<std::string> ids{"meeting-a", "meeting-b"};
  REQUIRE(caught_up(*m.runtime, "meetings.email", ids));
  const std::string expected =
      "user:1|Invitation from olga: meeting-a at 2030-01-01T10:00:00.000000Z|meeting-a#2\n"
      "user:1|Moved: meeting-a now starts at 2030-01-01T10:30:00.000000Z|meeting-a#6\n"
      "user:2|Invitation from olga: meeting-a at 2030-01-01T10:00:00.000000Z|meeting-a#2\n"
      "user:2|Moved: meeting-a now starts at 2030-01-01T10:30:00.000000Z|meeting-a#6\n"
      "user:3|Cancelled: meeting-b (room flooded)|meeting-b#4\n"
      "user:3|Invitation from olga: meeting-b at 2030-01-01T11:00:00.000000Z|meeting-b#2\n";
  CHECK(mail_lines(*m.outbox) == expected);

  m.runtime->stop_consumers();
  CHECK(handled(*m.runtime, "meetings.email", ids) == 6 + 4);
  m.runtime->reset_group("meetings.email");
  CHECK(handled(*m.runtime, "meetings.email", ids) == 0);  // so the whole history is delivered again
  m.runtime->start_consumers(testing::quiet_workers());
  REQUIRE(caught_up(*m.runtime, "meetings.email", ids));
  CHECK(handled(*m.runtime, "meetings.email", ids) == 6 + 4);
  CHECK(mail_lines(*m.outbox) == expected);  // replayed, and nothing was sent again

  // The handler is live again after the replay: a new event still sends.
  m.ok("meeting-a", meetings::Cancel{""});
  CHECK(eventually([&] { return m.outbox->size() == 6 + 2; }));
  m.runtime->shutdown();
}

// PostgreSQL tables: this part is built into the PostgreSQL suite only (the memory store has no SQL).
#ifdef CAIRN_TEST_POSTGRES
namespace {

// meeting -> "organizer|starts_at|status|user:accepted,...", from the tables and from the actor's state.
using Rows = std::map<std::string, std::string>;

// One line per meeting, so that a failed comparison shows the difference.
std::string render(const Rows& rows) {
  std::string out;
  for (const auto& [meeting, row] : rows) out += meeting + ": " + row + "\n";
  return out;
}

Rows tables(const std::string& url) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  Rows out;
  for (const auto& r : tx.exec(
           "SELECT meeting_id, organizer || '|' || to_char(starts_at AT TIME ZONE 'UTC', "
           "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || '|' || status FROM public.meetings"))
    out[r[0].c_str()] = r[1].c_str();
  for (const auto& r : tx.exec(
           "SELECT meeting_id, string_agg(user_id || ':' || accepted, ',' ORDER BY user_id) FROM public.meeting_attendees "
           "GROUP BY meeting_id"))
    out[r[0].c_str()] += std::string("|") + r[1].c_str();
  return out;
}

Rows states(Meetings& m, const std::vector<std::string>& ids) {
  Rows out;
  for (const auto& id : ids) {
    auto s = m.state(id);
    std::string attendees;
    for (auto user : std::set<int64_t>(s.invitees.begin(), s.invitees.end()))
      attendees += (attendees.empty() ? "" : ",") + std::to_string(user) + ":" + (s.accepted.count(user) ? "true" : "false");
    out[id] = s.organizer + "|" + s.starts_at + "|" + s.status + "|" + attendees;
  }
  return out;
}

}  // namespace

TEST_CASE("the meetings tables follow the log, and a reset rebuilds them identically without e-mails") {
  Meetings m(pinned_clock);
  m.runtime->start_consumers(testing::quiet_workers());
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) ids.push_back("meeting-" + std::to_string(i));
  // One client per meeting, all at once: each meeting ends in a different status.
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&, i] {
      const auto& id = ids[i];
      auto ok = [&](const auto& command) { CHECK(m.runtime->handle(id, command).ok()); };
      ok(meetings::Schedule{"organizer " + std::to_string(i), "2030-01-0" + std::to_string(i + 1) + "T12:00:00Z",
                            {{10 * i + 1, 10 * i + 2, 10 * i + 3}}});
      for (int user = 1; user <= i % 4; ++user) ok(meetings::Accept{10 * i + user});
      if (i % 2) ok(meetings::Reschedule{"2030-02-0" + std::to_string(i + 1) + "T15:30:00+02:00"});
      if (i % 3 == 1) ok(meetings::Cancel{"no quorum"});
      if (i % 3 == 2) ok(meetings::Finish{});
    });
  for (auto& t : clients) t.join();

  REQUIRE(caught_up(*m.runtime, "meetings.tables", ids));
  REQUIRE(caught_up(*m.runtime, "meetings.email", ids));
  auto rows = tables(m.url);
  auto before = render(rows);
  CHECK(before == render(states(m, ids)));
  CHECK(rows["meeting-1"] == "organizer 1|2030-02-02T13:30:00.000000Z|cancelled|11:true,12:false,13:false");
  CHECK(rows["meeting-2"] == "organizer 2|2030-01-03T12:00:00.000000Z|finished|21:true,22:true,23:false");
  auto mails = mail_lines(*m.outbox);
  CHECK(m.outbox->size() == 8 * 3 + 4 * 3 + 3 * 3);  // invitations, moves of the odd ones, cancellations

  m.runtime->stop_consumers();
  m.runtime->reset_group("meetings.tables");
  m.runtime->reset_group("meetings.email");
  CHECK(tables(m.url).empty());
  m.runtime->start_consumers(testing::quiet_workers());
  REQUIRE(caught_up(*m.runtime, "meetings.tables", ids));
  REQUIRE(caught_up(*m.runtime, "meetings.email", ids));
  CHECK(render(tables(m.url)) == before);
  CHECK(mail_lines(*m.outbox) == mails);
  m.runtime->shutdown();
}

#endif  // CAIRN_TEST_POSTGRES
