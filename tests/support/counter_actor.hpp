// A small actor for runtime tests: a counter with rejections, failures, slow commands and an upcaster.
#pragma once

#include <chrono>
#include <stdexcept>
#include <thread>

#include <cairn/application.hpp>

namespace counter {

struct Increment {
  int by = 1;
};
struct Fail {};
struct Slow {
  int ms = 0;
};
// Revision 2 renamed `amount` to `by`; revision-1 events are upcast on read.
struct Incremented {
  int by = 0;
};

struct State {
  long total = 0;
  long count = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(State, total, count)

}  // namespace counter

CAIRN_MESSAGE(counter::Increment, "counter.increment", 1, by)
CAIRN_MESSAGE(counter::Fail, "counter.fail", 1)
CAIRN_MESSAGE(counter::Slow, "counter.slow", 1, ms)
CAIRN_MESSAGE(counter::Incremented, "counter.incremented", 2, by)

namespace counter {

inline cairn::ActorDefinition<State> actor(int snapshot_every = 0, int state_revision = 1) {
  return cairn::actor<State>("counter")
      .decide<Increment>([](const State&, const Increment& c) -> cairn::Decision {
        if (c.by <= 0) return cairn::reject("not_positive", "by must be positive, got " + std::to_string(c.by));
        return Incremented{c.by};
      })
      .decide<Fail>([](const State&, const Fail&) -> cairn::Decision { throw std::runtime_error("boom"); })
      .decide<Slow>([](const State&, const Slow& c) -> cairn::Decision {
        std::this_thread::sleep_for(std::chrono::milliseconds(c.ms));
        return Incremented{1};
      })
      .evolve<Incremented>([](State& s, const Incremented& e) {
        s.total += e.by;
        s.count += 1;
      })
      // A big increment echoes: one more on "<stream>-echo", through the log (dispatch + delivery).
      .react<Incremented>([](const Incremented& e, const cairn::Message& event) {
        cairn::Commands out;
        if (e.by >= 100) out.push_back(cairn::send(event.stream_id + "-echo", Increment{1}));
        return out;
      })
      .snapshot_every(snapshot_every, state_revision);
}

inline void install(cairn::Application& app, int snapshot_every = 0, int state_revision = 1) {
  app.add(actor(snapshot_every, state_revision));
  app.upcast<Incremented>(1, [](cairn::Json payload) {
    return cairn::Json{{"by", payload.at("amount")}};
  });
}

}  // namespace counter
