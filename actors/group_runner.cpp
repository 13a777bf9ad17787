#include "actors/group_runner.hpp"

#include <algorithm>
#include <deque>
#include <future>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "actors/read_ahead.hpp"
#include "actors/slice_progress.hpp"
#include "actors/slice_set.hpp"
#include "actors/stream_work.hpp"
#include <cairn/errors.hpp>

namespace cairn {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A stream handler busy with a unit this long has the unit's streams it has not started handed to
// other handlers: one slow stream holds up no other.
constexpr milliseconds take_back_after{50};
// How often progress is saved while events flow (and always when the runner stops).
constexpr milliseconds save_interval{50};
// A stream handled ahead of its slice's low-water mark for this long has its own mark saved.
constexpr milliseconds mark_patience{1000};
// How many streams with nothing to do the runner keeps, with their progress: a stream's next
// events then need no read of its progress row (a feed page of 2,000 events over 1,000 streams
// cost a query for 1,000 rows). Its own handlers are the only writers of those rows while the
// runner holds the slice; an operator's resume reaches it through find_resumed.
constexpr size_t quiet_streams_kept = 10000;

// A stream with events read and not yet handled.
struct StreamState {
  uint32_t slice = 0;
  std::vector<FeedEntry> queued;
  std::vector<std::pair<int64_t, FeedCursor>> in_flight;  // seq and cursor of the events handed out
  std::optional<StreamProgress> progress;
  bool busy = false;    // a handler has it: its next events wait, so it stays in seq order
  bool catch_up = false;  // resumed by an operator: read from the stream itself
  bool listed_quiet = false;  // named in the runner's quiet streams
  bool assumed = false;  // its progress was raised to its first event read, unchecked until one is handled
  int failures = 0;       // interrupted tries in a row
  Clock::time_point not_before{};
};

// A slice's progress on its way to the store.
struct Saved {
  uint32_t slice;
  Fence fence;
  FeedCursor cursor;
  std::vector<ProgressMark> marks;
  enum { pending, saved, stale, lost } outcome = pending;
};

struct InFlight {
  std::shared_ptr<Unit> unit;
  size_t handler;
  Clock::time_point since;
  bool taken_back = false;
};

class Runner {
 public:
  Runner(caf::blocking_actor* self, std::shared_ptr<const RunnerContext> context)
      : self_(self),
        context_(std::move(context)),
        options_(context_->consumer->options()),
        slices_(*context_),
        read_ahead_(
            [this](FeedCursor after, const ReadAhead::Key& key) {
              // Owning every slice, it reads them all: no test of each row's slice.
              bool all = key.slices.size() >= key.slice_count;
              return context_->store->read_feed_page(after, context_->options.batch_size,
                                                     {options_.types, all ? 1 : key.slice_count,
                                                      all ? std::vector<uint32_t>() : key.slices});
            },
            context_->options.batch_size) {
    for (size_t i = 0; i < std::max<size_t>(context_->options.stream_handlers, 1); ++i) {
      handlers_.push_back(self_->spawn(stream_handler, context_));
      idle_.push_back(i);
    }
  }

  ~Runner() {
    for (auto& h : handlers_) self_->send(h, stop_atom::value);
  }

  void run() {
    while (!context_->stopping->load()) {
      try {
        round();
      } catch (const std::exception& e) {
        warn("group " + options_.group + ": " + e.what());
        pause(context_->options.poll_interval * 5);
      }
    }
    drain();
    try {
      save(true);
    } catch (const std::exception& e) {
      warn("group " + options_.group + ": progress not saved on the way out: " + e.what());
    }
  }

 private:
  void round() {
    auto now = Clock::now();
    if (now >= next_balance_) balance();
    if (slices_.empty()) return pause(context_->options.poll_interval * 5);
    // Even while the pending events are at their bound: a pause, a reset or a lost lease must be
    // seen, and asking after the leases is what tells the watchdog this runner is not frozen.
    if (now - last_refresh_ >= context_->options.poll_interval) refresh();
    if (slices_.empty()) return;
    if (wants_to_read()) {
      find_resumed();
      read();
    }
    wake_rested();
    take_back_slow();
    dispatch();
    collect(wait_time());
    give_up_lost();
    save(false);
  }

  // -- slices

  void balance() {
    next_balance_ = Clock::now() + context_->options.poll_interval * 5;
    auto balance = slices_.balance();
    for (auto slice : balance.taken) track(slice);
    if (balance.surplus) give_up(*balance.surplus, "released", " (its fair share went to another process)");
  }

  // Starts following a slice from its saved cursor; one whose cursor cannot be read is given up.
  // The runner knows none of its streams: a slice is taken only once it was given up, and giving
  // up forgets them.
  void track(uint32_t slice) {
    try {
      progress_.insert_or_assign(slice, SliceProgress(context_->store->load_cursor(options_.group, slice)));
      more_ = true;
    } catch (const std::exception& e) {
      slices_.release(slice, "released", std::string(" (its cursor could not be read: ") + e.what() + ")");
    }
  }

  // Follows the group: a pause or another version's shape gives every slice up, a reset reloads
  // the cursors, and a lost lease gives its slice up.
  void refresh() {
    last_refresh_ = Clock::now();
    std::string why;
    auto change = slices_.refresh(why);
    if (change == SliceSet::Change::stop) {
      drain();
      save(true);
      forget_all();
      slices_.release_all(why, why == "paused" ? "" : " (another version changed the group's shape)");
      return;
    }
    if (change == SliceSet::Change::generation) {
      drain();
      forget_all();
      for (auto slice : slices_.owned()) track(slice);
    }
    for (auto slice : slices_.lost()) lost_.insert(slice);
    give_up_lost();
  }

  // Giving one slice up drains the handlers, whose outcomes may tell of more lost slices.
  void give_up_lost() {
    while (!lost_.empty()) {
      auto slice = *lost_.begin();
      lost_.erase(lost_.begin());
      give_up(slice, "lost", " (another process owns it now)");
    }
  }

  // Once the handlers are done with it (and its progress saved, if the lease still holds).
  void give_up(uint32_t slice, const std::string& what, const std::string& why) {
    drain();
    try {
      save(true);
    } catch (const LeaseLost&) {
    }
    forget(slice);
    slices_.release(slice, what, why);
  }

  void forget(uint32_t slice) {
    abandon_save();
    std::erase_if(streams_, [&](const auto& s) { return s.second.slice == slice; });
    progress_.erase(slice);
  }

  void forget_all() {
    abandon_save();
    streams_.clear();
    quiet_.clear();
    ready_.clear();
    rested_.clear();
    progress_.clear();
  }

  // -- reading

  size_t pending() const {
    size_t n = 0;
    for (const auto& [slice, progress] : progress_) n += progress.pending();
    return n;
  }

  bool wants_to_read() const {
    if (pending() >= 4 * context_->options.batch_size) return false;  // bounded memory
    return more_ || context_->wakeup->epoch() != seen_ || Clock::now() - last_read_ >= context_->options.poll_interval;
  }

  // One read of the feed for every slice this process owns, from the slowest one's place. With the
  // feed head: a page shorter than the limit holds every matching entry up to it, so the slices
  // may move to the head, past entries of other types and slices.
  void read() {
    seen_ = context_->wakeup->epoch();
    last_read_ = Clock::now();
    auto owned = slices_.owned();
    FeedCursor from = progress_.at(owned.front()).read_upto();
    for (auto slice : owned) from = std::min(from, progress_.at(slice).read_upto());
    auto [page, batch] = read_ahead_.take(from, {slices_.group().slice_count, owned});
    more_ = page.size >= context_->options.batch_size;
    // The progress of the streams new to the runner, before anything changes: if this throws (the
    // database went away), the same batch is read again.
    std::vector<std::string> unknown;
    std::unordered_set<std::string_view> listed;
    for (const auto& entry : batch)
      if (!streams_.count(entry.message.stream_id) && listed.insert(entry.message.stream_id).second)
        unknown.push_back(entry.message.stream_id);
    std::unordered_map<std::string, StreamProgress> loaded;
    if (!unknown.empty())
      for (auto& progress : context_->store->load_progress(options_.group, unknown))
        loaded.emplace(progress.stream_id, std::move(progress));
    std::vector<std::string> arrived;
    for (auto& entry : batch) {
      auto slice = slices_.slice_of(entry.message.stream_id);
      auto& progress = progress_.at(slice);
      if (!(progress.read_upto() < entry.cursor)) continue;  // this slice had read it already
      progress.read(entry.cursor);
      auto [it, fresh] = streams_.try_emplace(entry.message.stream_id);
      auto& stream = it->second;
      if (fresh) {
        stream.slice = slice;
        if (auto row = loaded.find(it->first); row != loaded.end()) stream.progress = std::move(row->second);
      }
      if (stream.queued.empty()) arrived.push_back(it->first);
      stream.queued.push_back(std::move(entry));
      if (fresh) assume_handled_before(stream);
    }
    for (const auto& id : arrived) settle_queue(id);
    auto through = more_ ? batch.back().cursor : std::max(page.head, batch.empty() ? from : batch.back().cursor);
    for (auto& [slice, progress] : progress_) progress.read_through(through);
  }

  // A stream new to the runner has handled everything before its first event read now: a stream's
  // events reach the feed in seq order and are handled in it, and its own mark is not written
  // once the cursor covers it. (A stopped or resumed stream's row says where it really is.) A
  // projector (SQL, state-stored or event-sourced) has the assumption checked when it first
  // writes the stream's mark (StreamGap).
  static void assume_handled_before(StreamState& stream) {
    auto& progress = stream.progress;
    if (progress && (progress->stopped || progress->failed_seq > 0)) return;
    if (!progress) {
      progress.emplace();
      progress->stream_id = stream.queued.front().message.stream_id;
    }
    auto before = stream.queued.front().message.seq - 1;
    stream.assumed = before > progress->seq;
    progress->seq = std::max(progress->seq, before);
  }

  // Resumed streams of the owned slices: caught up from the stream itself, since the feed went past
  // the events that arrived while they were stopped.
  void find_resumed() {
    if (Clock::now() - last_resume_check_ < context_->options.poll_interval) return;
    last_resume_check_ = Clock::now();
    for (auto& failed : context_->store->failed_streams(options_.group)) {
      if (!is_resumed(failed) || !progress_.count(slices_.slice_of(failed.stream_id))) continue;
      auto [it, fresh] = streams_.try_emplace(failed.stream_id);
      auto& stream = it->second;
      if (stream.busy || stream.catch_up) continue;
      stream.slice = slices_.slice_of(failed.stream_id);
      stream.progress = std::move(failed);
      stream.catch_up = true;
      ready_.push_back(it->first);
    }
  }

  // Resolves what a stream's progress already covers; the rest waits for a handler.
  void settle_queue(const std::string& id) {
    auto it = streams_.find(id);
    auto& stream = it->second;
    auto& progress = progress_.at(stream.slice);
    bool stopped = stream.progress && stream.progress->stopped;
    int64_t done = stream.progress ? stream.progress->seq : 0;
    auto settled = stream.queued.begin();
    for (; settled != stream.queued.end() && (stopped || settled->message.seq <= done); ++settled)
      progress.handled(settled->cursor);  // a stopped stream's events wait for a resume
    stream.queued.erase(stream.queued.begin(), settled);
    if (stream.busy || stream.not_before > Clock::now()) return;
    if (stream.queued.empty() && !stream.catch_up)
      keep_quiet(stream, id);
    else
      ready_.push_back(id);
  }

  // Past the bound, the stream listed first is forgotten if it is quiet still (and unlisted if
  // it is busy again: it is listed anew when it next goes quiet).
  void keep_quiet(StreamState& stream, const std::string& id) {
    if (stream.listed_quiet) return;
    stream.listed_quiet = true;
    quiet_.push_back(id);
    while (quiet_.size() > quiet_streams_kept) {
      auto it = streams_.find(quiet_.front());
      quiet_.pop_front();
      if (it == streams_.end()) continue;
      auto& oldest = it->second;
      oldest.listed_quiet = false;
      if (!oldest.busy && !oldest.catch_up && oldest.queued.empty() && oldest.in_flight.empty()) streams_.erase(it);
    }
  }

  // -- handling

  void wake_rested() {
    auto now = Clock::now();
    std::erase_if(rested_, [&](const std::string& id) {
      auto it = streams_.find(id);
      if (it == streams_.end()) return true;
      if (it->second.not_before > now) return false;
      settle_queue(id);
      return true;
    });
  }

  // Hands ready streams to idle handlers, a share of a batch each.
  void dispatch() {
    size_t unit_events = std::max<size_t>(context_->options.batch_size / handlers_.size(), 1);
    while (!idle_.empty() && !ready_.empty()) {
      auto unit = std::make_shared<Unit>();
      unit->group = slices_.group();
      size_t events = 0;
      while (!ready_.empty() && events < unit_events) {
        auto id = std::move(ready_.front());
        ready_.pop_front();
        auto it = streams_.find(id);
        if (it == streams_.end() || it->second.busy) continue;
        auto& stream = it->second;
        if (stream.queued.empty() && !stream.catch_up) continue;
        StreamJob job{id,
                      slices_.fence(stream.slice),
                      {},
                      stream.progress,
                      progress_.at(stream.slice).safe(),
                      context_->metrics->slice(stream.slice),
                      stream.assumed};
        for (const auto& entry : stream.queued) stream.in_flight.push_back({entry.message.seq, entry.cursor});
        job.events = std::move(stream.queued);
        stream.queued.clear();
        stream.busy = true;
        events += std::max<size_t>(job.events.size(), 1);
        unit->streams.push_back(std::move(job));
      }
      if (unit->streams.empty()) return;
      auto handler = idle_.back();
      idle_.pop_back();
      self_->send(handlers_[handler], run_atom::value, unit);
      in_flight_.push_back({unit, handler, Clock::now()});
    }
  }

  // The streams a slow unit has not started go back to the ready ones.
  void take_back_slow() {
    auto now = Clock::now();
    for (auto& flight : in_flight_) {
      if (flight.taken_back || now - flight.since < take_back_after) continue;
      flight.taken_back = true;
      auto& streams = flight.unit->streams;
      for (size_t i = flight.unit->take_back(); i < streams.size(); ++i) {
        auto& stream = streams_.at(streams[i].stream_id);
        stream.queued.insert(stream.queued.begin(), std::make_move_iterator(streams[i].events.begin()),
                             std::make_move_iterator(streams[i].events.end()));
        stream.in_flight.clear();
        stream.busy = false;
        ready_.push_front(streams[i].stream_id);
      }
    }
  }

  // Waits up to `wait` for a handler to finish, then takes every finished unit there is.
  void collect(milliseconds wait) {
    bool waited = false;
    for (;;) {
      bool got = false;
      auto done = [&](done_atom, UnitDone& unit) {
        got = true;
        settle(unit);
      };
      if (in_flight_.empty()) {
        if (!waited && wait.count() > 0) context_->wakeup->wait(seen_, wait);
        return;
      }
      self_->receive(done, caf::after(waited ? milliseconds(0) : wait) >> [] {});
      waited = true;
      if (!got) return;
    }
  }

  void drain() {
    while (!in_flight_.empty()) collect(milliseconds(100));
  }

  void settle(UnitDone& done) {
    auto flight = std::find_if(in_flight_.begin(), in_flight_.end(), [&](auto& f) { return f.unit == done.unit; });
    idle_.push_back(flight->handler);
    in_flight_.erase(flight);
    for (auto& outcome : done.outcomes) settle(outcome, *done.unit);
  }

  void settle(StreamOutcome& outcome, Unit& unit) {
    auto it = streams_.find(outcome.stream_id);
    auto& stream = it->second;
    auto& progress = progress_.at(stream.slice);
    if (outcome.lease_lost) lost_.insert(stream.slice);
    FeedCursor last;
    for (auto& [seq, cursor] : stream.in_flight) {
      if (!outcome.stopped && seq > outcome.handled) continue;
      progress.handled(cursor);
      last = std::max(last, cursor);
    }
    if (outcome.mark) progress.keep(*outcome.mark, last, Clock::now());
    stream.in_flight.clear();
    if (!stream.progress) {
      stream.progress.emplace();
      stream.progress->stream_id = outcome.stream_id;
    }
    if (outcome.handled > stream.progress->seq) stream.assumed = false;  // a transaction checked it
    stream.progress->seq = std::max(stream.progress->seq, outcome.handled);
    stream.progress->stopped = stream.progress->stopped || outcome.stopped;
    if (outcome.caught_up) stream.progress->failed_seq = 0;
    stream.catch_up = false;
    stream.busy = false;
    // What was handed out and not handled goes back to the front of the queue, so the queue stays
    // in seq order. Under a lost lease the slice is given up, and its streams with it, but a stream
    // must never be left holding its later events without its earlier ones.
    if (!outcome.complete) requeue_unhandled(stream, outcome, unit);
    if (!outcome.complete && !outcome.lease_lost) {
      // Interrupted (the database is away, or shutting down): its events are tried again later,
      // after a backoff, never in a hot loop.
      stream.not_before = Clock::now() + retry_policy(*context_).delay(++stream.failures);
      rested_.push_back(outcome.stream_id);
      return;
    }
    if (outcome.complete) stream.failures = 0;
    settle_queue(outcome.stream_id);
  }

  // The events handed out and not handled go back to the front of the stream's queue, in order.
  void requeue_unhandled(StreamState& stream, const StreamOutcome& outcome, Unit& unit) {
    auto job = std::find_if(unit.streams.begin(), unit.streams.end(),
                            [&](const StreamJob& j) { return j.stream_id == outcome.stream_id; });
    auto first = std::find_if(job->events.begin(), job->events.end(),
                              [&](const FeedEntry& e) { return e.message.seq > outcome.handled; });
    stream.queued.insert(stream.queued.begin(), std::make_move_iterator(first),
                         std::make_move_iterator(job->events.end()));
  }

  // -- progress

  // Saves each slice's low-water mark, with the marks of the streams long ahead of it (all of
  // them on the way out, and then at once). Otherwise the save runs beside the runner, one at a
  // time so they land in order: a durable commit takes milliseconds the feed need not wait for.
  void save(bool all) {
    finish_save(all);
    if (saving_.valid()) return;
    auto now = Clock::now();
    if (!all && now - last_save_ < save_interval) return;
    last_save_ = now;
    std::vector<Saved> jobs;
    for (auto& [slice, progress] : progress_) {
      auto marks = progress.marks_due(now, all ? Clock::duration::zero() : mark_patience);
      if (progress.cursor_moved() || !marks.empty())
        jobs.push_back({slice, slices_.fence(slice), progress.safe(), std::move(marks)});
    }
    if (jobs.empty()) return;
    auto task = [store = context_->store, group = slices_.group(), jobs = std::move(jobs)]() mutable {
      for (auto& job : jobs) {
        try {
          // False: a reset or reshape came first; the next refresh reloads the cursors.
          job.outcome = store->save_progress(group.group_id, job.fence, group.generation, job.cursor, job.marks)
                            ? Saved::saved
                            : Saved::stale;
        } catch (const LeaseLost&) {
          job.outcome = Saved::lost;
        }
      }
      return jobs;
    };
    if (all)
      apply(task());
    else
      saving_ = std::async(std::launch::async, std::move(task));
  }

  // Takes the result of the save in flight once it is done (`wait`: waits for it); rethrows its error.
  void finish_save(bool wait) {
    if (!saving_.valid()) return;
    if (!wait && saving_.wait_for(milliseconds(0)) != std::future_status::ready) return;
    apply(saving_.get());
  }

  // Before a slice's progress is dropped: the save in flight belongs to what is dropped, and is
  // done again from the reloaded cursor if it failed.
  void abandon_save() {
    try {
      finish_save(true);
    } catch (const std::exception&) {
    }
  }

  void apply(const std::vector<Saved>& saved) {
    for (const auto& job : saved) {
      if (job.outcome == Saved::lost) lost_.insert(job.slice);
      if (auto it = progress_.find(job.slice); it != progress_.end() && job.outcome == Saved::saved)
        it->second.saved(job.cursor, job.marks);
    }
  }

  milliseconds wait_time() const {
    if (!ready_.empty() && !idle_.empty()) return milliseconds(0);
    if (wants_to_read()) return milliseconds(0);
    auto now = Clock::now();
    auto until = std::min(next_balance_, last_read_ + context_->options.poll_interval);
    if (!in_flight_.empty()) until = std::min(until, now + milliseconds(5));  // new events are seen soon
    for (const auto& flight : in_flight_)
      if (!flight.taken_back) until = std::min(until, flight.since + take_back_after);
    for (const auto& id : rested_)
      if (auto it = streams_.find(id); it != streams_.end()) until = std::min(until, it->second.not_before);
    if (std::any_of(progress_.begin(), progress_.end(),
                    [](const auto& p) { return p.second.cursor_moved() || p.second.has_marks(); }))
      until = std::min(until, last_save_ + save_interval);
    if (saving_.valid()) until = std::min(until, now + milliseconds(5));
    return std::max(milliseconds(0), std::chrono::ceil<milliseconds>(until - now));
  }

  void pause(milliseconds timeout) {
    context_->wakeup->wait(context_->wakeup->epoch(), timeout);
  }

  void warn(std::string message) const {
    context_->log({.level = LogLevel::warn, .message = std::move(message), .group = options_.group});
  }

  caf::blocking_actor* self_;
  std::shared_ptr<const RunnerContext> context_;
  const ConsumerOptions& options_;
  SliceSet slices_;
  ReadAhead read_ahead_;
  std::map<uint32_t, SliceProgress> progress_;  // of each owned slice
  std::unordered_map<std::string, StreamState> streams_;
  std::deque<std::string> ready_;  // streams with events for a handler (may name some twice)
  std::deque<std::string> quiet_;  // streams that went quiet, the earliest first (each named once)
  std::vector<std::string> rested_;  // streams waiting out a backoff
  std::vector<caf::actor> handlers_;
  std::vector<size_t> idle_;
  std::vector<InFlight> in_flight_;
  std::set<uint32_t> lost_;
  std::future<std::vector<Saved>> saving_;  // the save in flight
  uint64_t seen_ = 0;  // the wakeup epoch of the last read
  bool more_ = true;   // the last read was full: the feed has more right away
  Clock::time_point last_read_{}, last_save_{}, last_refresh_{}, next_balance_{}, last_resume_check_{};
};

}  // namespace

void group_runner(caf::blocking_actor* self, std::shared_ptr<const RunnerContext> context) {
  Runner(self, std::move(context)).run();
}

void RunnerReport::balanced(size_t held, size_t wanted) {
  std::lock_guard lock(mutex_);
  balanced_ = true;
  held_ = held;
  wanted_ = wanted;
  refusal_.clear();
}

void RunnerReport::held(size_t held) {
  std::lock_guard lock(mutex_);
  held_ = held;
}

void RunnerReport::refused(const std::string& reason) {
  std::lock_guard lock(mutex_);
  refusal_ = reason;
  if (!reason.empty()) balanced_ = true;
}

std::optional<std::string> RunnerReport::problem() const {
  std::lock_guard lock(mutex_);
  if (!refusal_.empty()) return "consumer group " + group_ + " does not run here: " + refusal_;
  if (!balanced_) return "consumer group " + group_ + " has not taken its slices yet";
  if (held_ < wanted_)
    return "consumer group " + group_ + ": holds " + std::to_string(held_) + " of the " + std::to_string(wanted_) +
           " slices it wants";
  return std::nullopt;
}

}  // namespace cairn
