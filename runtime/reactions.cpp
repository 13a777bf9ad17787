#include "runtime/reactions.hpp"

#include <uuid/uuid.h>

#include <set>

namespace cairn {
namespace {

// A name-based (SHA-1) uuid: the same reaction to the same event always gets the same command id.
std::string derived_uuid(const std::string& name) {
  static const uuid_t ns = {0x5c, 0x1a, 0x9e, 0x0b, 0x7d, 0x2f, 0x4e, 0x11, 0x9a, 0x3c, 0x6b, 0x8d, 0x21, 0xf0, 0x44, 0x17};
  uuid_t out;
  uuid_generate_sha1(out, ns, name.data(), name.size());
  char text[37];
  uuid_unparse_lower(out, text);
  return text;
}

}  // namespace

void mark_dispatched(Message& command) { command.metadata["dispatched"] = true; }
bool is_dispatched(const Message& command) {
  auto flag = command.metadata.find("dispatched");  // an odd stored value means "not dispatched"
  return flag != command.metadata.end() && flag->is_boolean() && flag->get<bool>();
}

ActorReactions::ActorReactions(const ActorSpec& spec) : spec_(spec) {
  options_.group = spec.name + ".reactions";
  for (const auto& [type, reactor] : spec.reactors) options_.types.push_back(type);
}

void ActorReactions::handle(Store&, ConsumerServices& services, const Message& event, const Delivery&) {
  auto it = spec_.reactors.find(event.type);
  if (it != spec_.reactors.end()) services.send_commands(options_.group, event, it->second(event));
}

CommandDelivery::CommandDelivery(const Application& app) {
  options_.group = group;
  for (const auto& spec : app.actors()) {
    for (const auto& [type, decider] : spec.deciders) decided_.insert(type);
    for (const auto& type : spec.types)
      if (type.kind == MessageKind::event) events_.insert(type.name);
  }
}

void CommandDelivery::handle(Store&, ConsumerServices& services, const Message& command, const Delivery& delivery) {
  // Commands appended by handle() were decided in the same transaction; only dispatched ones wait.
  // (Events written before events stopped inheriting their command's metadata may carry the flag.)
  if (!is_dispatched(command) || events_.count(command.type)) return;
  if (!decided_.count(command.type))
    throw StoreError("no actor of this process decides " + command.type + " (dispatched by a newer version?): "
                     "run the version that does, then `cairn resume " + options_.group + " --stream " +
                     command.stream_id + "`");
  // The stream actor answers it at most once: its events or its rejection, appended with the mark.
  auto result = services.deliver(command, delivery.mark(options_.group, command));
  if (result.status == HandleResult::Status::lease_lost) throw LeaseLost(result.error);
  // Neither is a failed attempt: the command is delivered again once the store or stream can take it.
  if (result.status == HandleResult::Status::unavailable || result.status == HandleResult::Status::overloaded)
    throw Unavailable(result.error);
  if (result.status != HandleResult::Status::ok)
    throw StoreError("delivering " + command.type + " " + command.id + " failed: " + result.error);
}

std::vector<std::shared_ptr<Consumer>> consumer_groups(const Application& app) {
  auto groups = app.consumers();
  for (const auto& spec : app.actors())
    if (!spec.reactors.empty()) groups.push_back(std::make_shared<ActorReactions>(spec));
  if (!app.actors().empty()) groups.push_back(std::make_shared<CommandDelivery>(app));
  return groups;
}

std::string reaction_command_id(const std::string& group, const Message& cause, size_t index) {
  return derived_uuid(group + "/" + cause.id + "/" + std::to_string(index));
}

}  // namespace cairn
