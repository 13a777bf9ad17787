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

// How a stream actor's append ended: the store's outcome, or why the store failed (the commit
// may have happened).
struct Appended {
  AppendOutcome outcome;
  std::string failure;  // set: `outcome` means nothing
};

using handle_atom = caf::atom_constant<caf::atom("handle")>;
using appended_atom = caf::atom_constant<caf::atom("appended")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using live_atom = caf::atom_constant<caf::atom("live")>;

// One live stream: commands strictly one at a time, in arrival order; its appends' answers come
// from the writer.
using stream_actor = caf::typed_actor<caf::reacts_to<handle_atom, HandleRequest>,
                                      caf::reacts_to<appended_atom, Appended>, caf::reacts_to<passivate_atom>>;

// Routes commands to stream actors, spawning and passivating them.
using supervisor_actor = caf::typed_actor<caf::reacts_to<handle_atom, HandleRequest>,
                                          caf::reacts_to<tick_atom>, caf::replies_to<shutdown_atom>::with<bool>,
                                          caf::replies_to<live_atom>::with<size_t>>;

}  // namespace cairn

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::HandleRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::Appended)
