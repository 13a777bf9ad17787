// The messages and typed interfaces of the runtime's CAF actors (all local, so passed unserialized).
#pragma once

#include <caf/all.hpp>

#include <cairn/store.hpp>
#include <cairn/handle_result.hpp>
#include "actors/reply.hpp"

namespace cairn {

// A command for a stream actor: decide, append [command, events...], answer `reply`. A stored
// command (dispatched earlier, already in the log) appends only its events, with the delivering
// group's mark. The answer goes straight to the caller's future, not back through the actors.
struct HandleRequest {
  std::string stream_id;
  Message command;
  bool stored = false;
  std::optional<ProgressMark> mark = std::nullopt;
  Reply reply = {};
};

using handle_atom = caf::atom_constant<caf::atom("handle")>;
using append_atom = caf::atom_constant<caf::atom("append")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using live_atom = caf::atom_constant<caf::atom("live")>;

// Group-commit writer: appends that arrive while a transaction is in flight share the next one.
using writer_actor = caf::typed_actor<caf::replies_to<append_atom, AppendRequest>::with<AppendOutcome>,
                                      caf::reacts_to<flush_atom>>;

// One live stream: commands strictly one at a time, in arrival order.
using stream_actor = caf::typed_actor<caf::reacts_to<handle_atom, HandleRequest>,
                                      caf::reacts_to<passivate_atom>>;

// Routes commands to stream actors, spawning and passivating them.
using supervisor_actor = caf::typed_actor<caf::reacts_to<handle_atom, HandleRequest>,
                                          caf::reacts_to<tick_atom>, caf::replies_to<shutdown_atom>::with<bool>,
                                          caf::replies_to<live_atom>::with<size_t>>;

}  // namespace cairn

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::HandleRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::AppendRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::AppendOutcome)
