// The consumers the runtime derives from actors: their reactions, and delivery of dispatched commands.
#pragma once

#include <set>

#include <cairn/application.hpp>

namespace cairn {

// Runs an actor's react handlers: group "<actor>.reactions".
class ActorReactions final : public Consumer {
 public:
  explicit ActorReactions(const ActorSpec& spec);
  const ConsumerOptions& options() const override { return options_; }
  void handle(Store& store, ConsumerServices& services, const Message& event, const Delivery& delivery) override;

 private:
  const ActorSpec& spec_;
  ConsumerOptions options_;
};

// Delivers commands put in the log by dispatch (and by reactions) to their stream actors: group
// "cairn.commands". The actor appends the events together with this group's progress. It reads
// every type, so a command that only a newer version decides stops its stream (loudly, to be
// resumed once that version runs) instead of being passed by an older worker's cursor.
class CommandDelivery final : public Consumer {
 public:
  static constexpr const char* group = "cairn.commands";
  explicit CommandDelivery(const Application& app);
  const ConsumerOptions& options() const override { return options_; }
  bool records_progress() const override { return true; }
  void handle(Store& store, ConsumerServices& services, const Message& command, const Delivery& delivery) override;

 private:
  ConsumerOptions options_;
  std::set<std::string> decided_;  // the command types this process's actors decide
  std::set<std::string> events_;   // and the event types they evolve
};

// Every consumer group of an application: its projectors and handlers, then the derived ones.
std::vector<std::shared_ptr<Consumer>> consumer_groups(const Application& app);

// The id of the index-th command a reaction (in `group`) sent for `cause`: stable across re-deliveries.
std::string reaction_command_id(const std::string& group, const Message& cause, size_t index);

// Marks a command as dispatched (to be delivered by the command-delivery group).
void mark_dispatched(Message& command);
bool is_dispatched(const Message& command);

}  // namespace cairn
