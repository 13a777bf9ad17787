// Meetings (streams "meeting-<id>"): schedule, accept, reschedule, finish, cancel; tables and e-mails.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <cairn/application.hpp>
#include <cairn/sql_projector.hpp>

namespace meetings {

// Commands. Times are ISO 8601 text, e.g. 2026-12-01T09:00:00Z.
struct Schedule {
  std::string organizer;
  std::string starts_at;
  std::vector<int64_t> invitees;  // decoding refuses 1.5, true or "7" (naming the field)
};
struct Accept {
  int64_t user_id = 0;
};
struct Reschedule {
  std::string starts_at;
};
struct Finish {};
struct Cancel {
  std::string reason;
};

// Events. Rescheduled and Cancelled carry the invitees so that notifications need no lookup.
struct Scheduled {
  std::string organizer;
  std::string starts_at;  // normalised: UTC, as cairn::format_time writes it
  std::vector<int64_t> invitees;
};
struct Accepted {
  int64_t user_id = 0;
};
struct Rescheduled {
  std::string starts_at;
  std::vector<int64_t> invitees;
};
struct Finished {};
struct Cancelled {
  std::string reason;
  std::vector<int64_t> invitees;
};

struct Meeting {
  std::string status = "new";  // then "scheduled", and finally "finished" or "cancelled"
  std::string organizer;
  std::string starts_at;
  std::vector<int64_t> invitees;
  std::set<int64_t> accepted;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Meeting, status, organizer, starts_at, invitees, accepted)

}  // namespace meetings

CAIRN_MESSAGE(meetings::Schedule, "meetings.schedule", 1, organizer, starts_at, invitees)
CAIRN_MESSAGE(meetings::Accept, "meetings.accept", 1, user_id)
CAIRN_MESSAGE(meetings::Reschedule, "meetings.reschedule", 1, starts_at)
CAIRN_MESSAGE(meetings::Finish, "meetings.finish", 1)
CAIRN_MESSAGE(meetings::Cancel, "meetings.cancel", 1, reason)
CAIRN_MESSAGE(meetings::Scheduled, "meetings.scheduled", 1, organizer, starts_at, invitees)
CAIRN_MESSAGE(meetings::Accepted, "meetings.accepted", 1, user_id)
CAIRN_MESSAGE(meetings::Rescheduled, "meetings.rescheduled", 1, starts_at, invitees)
CAIRN_MESSAGE(meetings::Finished, "meetings.finished", 1)
CAIRN_MESSAGE(meetings::Cancelled, "meetings.cancelled", 1, reason, invitees)

namespace meetings {

using Clock = std::function<cairn::Timestamp()>;

inline constexpr auto minimum_notice = std::chrono::minutes(5);

// The start time normalised, or why it is not acceptable (`error` set).
struct StartCheck {
  std::string starts_at;
  std::string code, error;
};
inline StartCheck check_start(const std::string& text, cairn::Timestamp now) {
  cairn::Timestamp starts;
  try {
    starts = cairn::parse_time(text);
  } catch (const cairn::BadInput&) {
    return {"", "starts_at_invalid", "starts_at must be an ISO 8601 time, got '" + text + "'"};
  }
  if (starts < now + minimum_notice) return {"", "starts_at_too_soon", "starts_at must be at least 5 minutes ahead"};
  return {cairn::format_time(starts), "", ""};
}

// The rejection of a change to a meeting that is not scheduled (yet, or any more); none while it is.
inline std::optional<cairn::Decision> not_scheduled(const Meeting& meeting) {
  if (meeting.status == "new") return cairn::reject("meeting_not_scheduled", "the meeting is not scheduled");
  if (meeting.status == "scheduled") return std::nullopt;
  return cairn::reject("meeting_" + meeting.status, "the meeting is " + meeting.status);  // meeting_cancelled, ...
}

// `clock` is what "now" means for the 5-minute rule (tests pin it).
inline cairn::ActorDefinition<Meeting> meeting_actor(Clock clock = cairn::now) {
  using cairn::Decision;
  return cairn::actor<Meeting>("meeting")
      .decide<Schedule>([clock](const Meeting& meeting, const Schedule& c) -> Decision {
        if (meeting.status != "new") return cairn::reject("meeting_exists", "the meeting is already " + meeting.status);
        if (c.organizer.empty()) return cairn::reject("organizer_missing", "organizer must not be empty");
        const auto& invitees = c.invitees;
        if (invitees.empty()) return cairn::reject("invitees_missing", "invitees must not be empty");
        if (std::set<int64_t>(invitees.begin(), invitees.end()).size() != invitees.size())
          return cairn::reject("invitees_repeated", "invitees must not repeat a user id");
        auto start = check_start(c.starts_at, clock());
        if (!start.error.empty()) return cairn::reject(start.code, start.error);
        return Scheduled{c.organizer, start.starts_at, invitees};
      })
      .decide<Accept>([](const Meeting& meeting, const Accept& c) -> Decision {
        if (auto refused = not_scheduled(meeting)) return *refused;
        if (std::find(meeting.invitees.begin(), meeting.invitees.end(), c.user_id) == meeting.invitees.end())
          return cairn::reject("not_invited", "user " + std::to_string(c.user_id) + " is not invited");
        if (meeting.accepted.count(c.user_id)) return {};  // accepting twice changes nothing
        return Accepted{c.user_id};
      })
      .decide<Reschedule>([clock](const Meeting& meeting, const Reschedule& c) -> Decision {
        if (auto refused = not_scheduled(meeting)) return *refused;
        auto start = check_start(c.starts_at, clock());
        if (!start.error.empty()) return cairn::reject(start.code, start.error);
        return Rescheduled{start.starts_at, meeting.invitees};
      })
      .decide<Finish>([](const Meeting& meeting, const Finish&) -> Decision {
        if (auto refused = not_scheduled(meeting)) return *refused;
        return Finished{};
      })
      .decide<Cancel>([](const Meeting& meeting, const Cancel& c) -> Decision {
        if (auto refused = not_scheduled(meeting)) return *refused;
        return Cancelled{c.reason, meeting.invitees};
      })
      .evolve<Scheduled>([](Meeting& meeting, const Scheduled& e) {
        meeting.status = "scheduled";
        meeting.organizer = e.organizer;
        meeting.starts_at = e.starts_at;
        meeting.invitees = e.invitees;
      })
      .evolve<Accepted>([](Meeting& meeting, const Accepted& e) { meeting.accepted.insert(e.user_id); })
      .evolve<Rescheduled>([](Meeting& meeting, const Rescheduled& e) { meeting.starts_at = e.starts_at; })
      .evolve<Finished>([](Meeting& meeting, const Finished&) { meeting.status = "finished"; })
      .evolve<Cancelled>([](Meeting& meeting, const Cancelled&) { meeting.status = "cancelled"; });
}

// meetings(meeting_id, organizer, starts_at, status) and public.meeting_attendees(meeting_id, user_id,
// accepted), exactly once (needs PostgreSQL).
inline std::shared_ptr<cairn::SqlProjector> tables_projector() {
  auto projector = cairn::sql_projector("meetings.tables");
  auto set_status = [](pqxx::work& tx, const std::string& meeting_id, const char* status) {
    tx.exec_params("UPDATE public.meetings SET status = $2 WHERE meeting_id = $1", meeting_id, status);
  };
  projector
      ->table("public.meetings",
              "CREATE TABLE IF NOT EXISTS public.meetings (meeting_id text PRIMARY KEY, organizer text NOT NULL, "
              "starts_at timestamptz NOT NULL, status text NOT NULL)")
      .table("public.meeting_attendees",
             "CREATE TABLE IF NOT EXISTS public.meeting_attendees (meeting_id text NOT NULL, user_id bigint NOT NULL, "
             "accepted boolean NOT NULL, PRIMARY KEY (meeting_id, user_id))")
      .on<Scheduled>([](pqxx::work& tx, const Scheduled& e, const cairn::Message& m) {
        tx.exec_params("INSERT INTO public.meetings VALUES ($1, $2, $3::timestamptz, 'scheduled')", m.stream_id, e.organizer,
                       e.starts_at);
        for (auto user : e.invitees)
          tx.exec_params("INSERT INTO public.meeting_attendees VALUES ($1, $2, false)", m.stream_id, user);
      })
      .on<Accepted>([](pqxx::work& tx, const Accepted& e, const cairn::Message& m) {
        tx.exec_params("UPDATE public.meeting_attendees SET accepted = true WHERE meeting_id = $1 AND user_id = $2",
                       m.stream_id, e.user_id);
      })
      .on<Rescheduled>([](pqxx::work& tx, const Rescheduled& e, const cairn::Message& m) {
        tx.exec_params("UPDATE public.meetings SET starts_at = $2::timestamptz WHERE meeting_id = $1", m.stream_id,
                       e.starts_at);
      })
      .on<Finished>([set_status](pqxx::work& tx, const Finished&, const cairn::Message& m) {
        set_status(tx, m.stream_id, "finished");
      })
      .on<Cancelled>([set_status](pqxx::work& tx, const Cancelled&, const cairn::Message& m) {
        set_status(tx, m.stream_id, "cancelled");
      })
      .on_reset([](pqxx::work& tx) { tx.exec0("TRUNCATE public.meetings, public.meeting_attendees"); });
  return projector;
}

// An e-mail as the notifier would send it; (meeting_id, seq) identifies the event, to deduplicate.
struct Email {
  std::string to;  // "user:<id>" for an invitee, the organizer as given
  std::string subject;
  std::string meeting_id;
  int64_t seq = 0;
};
using Mailer = std::function<void(const Email&)>;

inline std::string user_address(int64_t user_id) { return "user:" + std::to_string(user_id); }

// Invitations, moves and cancellations to the invitees. Never called while the group replays.
inline std::shared_ptr<cairn::SideEffectHandler> email_notifications(Mailer send) {
  auto handler = cairn::side_effect("meetings.email");
  auto to_invitees = [send](const std::vector<int64_t>& invitees, const std::string& subject, const cairn::Message& m) {
    for (auto user : invitees) send({user_address(user), subject, m.stream_id, m.seq});
  };
  handler
      ->on<Scheduled>([to_invitees](const Scheduled& e, const cairn::Message& m) {
        to_invitees(e.invitees, "Invitation from " + e.organizer + ": " + m.stream_id + " at " + e.starts_at, m);
      })
      .on<Rescheduled>([to_invitees](const Rescheduled& e, const cairn::Message& m) {
        to_invitees(e.invitees, "Moved: " + m.stream_id + " now starts at " + e.starts_at, m);
      })
      .on<Cancelled>([to_invitees](const Cancelled& e, const cairn::Message& m) {
        to_invitees(e.invitees, "Cancelled: " + m.stream_id + (e.reason.empty() ? "" : " (" + e.reason + ")"), m);
      });
  return handler;
}

}  // namespace meetings
