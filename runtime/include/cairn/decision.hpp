// What handlers return: decide gives events or a rejection; react gives commands to send.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <cairn/message_type.hpp>
#include <cairn/validation.hpp>

namespace cairn {

// An event or command before it has an envelope: its type, revision and payload.
struct Draft {
  std::string type;
  int revision = 1;
  Json payload = Json::object();

  template <TypedMessage T>
  static Draft of(const T& message) {
    return {MessageTraits<T>::name, MessageTraits<T>::revision, to_payload(message)};
  }
};

// A typed command in the envelope handle and dispatch take (a new id, the caller's metadata), for
// the untyped calls: `runtime.handle_async(stream, cairn::make_command(stream, AddItem{...}))`.
template <TypedMessage C>
Message make_command(const std::string& stream_id, const C& command, Json metadata = Json::object()) {
  return make_message(stream_id, MessageTraits<C>::name, to_payload(command), std::move(metadata),
                      MessageTraits<C>::revision);
}

// The code of a rejection given only a text: `cairn::reject("...")`.
inline constexpr const char* default_rejection_code = "rejected";
// The code of a stored command Cairn itself answers with a rejection because it can never be
// decided (no decide for its type, a payload this version cannot read, events the store refuses);
// a caller waiting on handle() gets Status::invalid for the same causes.
inline constexpr const char* invalid_command_code = "cairn.invalid";

// The event recording that a dispatched command was rejected (its caller is no longer waiting).
// `code` was added without a revision bump, since both directions read: a rejection recorded
// before codes existed has none, and a reader that predates the field ignores it.
struct Rejection {
  std::string command_id;
  std::string command_type;
  std::string reason;
  std::optional<std::string> code;
};

}  // namespace cairn

CAIRN_MESSAGE(cairn::Rejection, "cairn.command_rejected", 1, command_id, command_type, reason, code)

namespace cairn {

template <class State>
class Multi;

// The result of decide: the events to append, or a rejection: a stable code and a human text.
class Decision {
 public:
  Decision() = default;  // no events: the command is accepted and changes nothing
  template <TypedMessage E>
  Decision(const E& event) : events_{Draft::of(event)} {}  // NOLINT: one event reads best as `return Event{...};`

  template <TypedMessage... Es>
  static Decision events(const Es&... events) {
    Decision d;
    (d.events_.push_back(Draft::of(events)), ...);
    return d;
  }
  // One more event, for decisions whose events depend on the state: `Decision d = A{}; if (x) d.then(B{});`
  template <TypedMessage E>
  Decision& then(const E& event) {
    events_.push_back(Draft::of(event));
    return *this;
  }
  // Throws BadInput when `code` is not a code (validate_rejection_code).
  static Decision reject(std::string code, std::string text) {
    validate_rejection_code(code);
    Decision d;
    d.rejection_ = Reason{std::move(code), std::move(text)};
    return d;
  }
  static Decision reject(std::string text) { return reject(default_rejection_code, std::move(text)); }

  bool rejected() const { return rejection_.has_value(); }
  const std::string& rejection() const { return rejection_->text; }
  const std::string& rejection_code() const { return rejection_->code; }
  const std::vector<Draft>& drafts() const { return events_; }

 private:
  template <class>
  friend class Multi;  // adds the events it emits
  struct Reason {
    std::string code, text;
  };
  std::vector<Draft> events_;
  std::optional<Reason> rejection_;
};

// A business rule refused the command: `reject("insufficient_funds", "the balance is 30, the
// withdrawal 50")`. With only a text, the code is "rejected" (default_rejection_code).
inline Decision reject(std::string code, std::string text) { return Decision::reject(std::move(code), std::move(text)); }
inline Decision reject(std::string text) { return Decision::reject(std::move(text)); }
template <TypedMessage... Es>
Decision events(const Es&... es) {
  return Decision::events(es...);
}

// A command a reaction sends to a stream, now or later. A delay counts from the triggering event's
// created_at (the time the store gave it: PostgreSQL's clock when the event's transaction began),
// not from when the reaction runs, so a worker that starts late or restarts delivers what is
// overdue at once. Due times are compared with the worker's clock: keep the hosts' clocks in sync.
struct OutgoingCommand {
  std::string stream_id;
  Draft command;
  std::optional<Timestamp> due_at;     // .at(): deliver no earlier than this
  std::chrono::microseconds delay{0};  // .after(): deliver no earlier than the event's created_at + delay

  OutgoingCommand after(std::chrono::microseconds wait) const {
    auto copy = *this;
    copy.due_at.reset();
    copy.delay = wait;
    return copy;
  }
  OutgoingCommand at(Timestamp time) const {
    auto copy = *this;
    copy.due_at = time;
    return copy;
  }
  // When the command sent in reaction to `cause` falls due.
  Timestamp due(const Message& cause) const { return due_at ? *due_at : cause.created_at + delay; }
};

template <TypedMessage C>
OutgoingCommand send(std::string stream_id, const C& command) {
  return {std::move(stream_id), Draft::of(command), std::nullopt, {}};
}

using Commands = std::vector<OutgoingCommand>;

}  // namespace cairn
