// The Store interface: the append-only log every backend implements and the conformance suite checks.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <cairn/message.hpp>
#include <cairn/validation.hpp>

namespace cairn {

// The seq a writer believes the stream is at: exactly(0) means "must not exist yet".
struct ExpectedSeq {
  static ExpectedSeq any() { return {true, 0}; }
  static ExpectedSeq exactly(int64_t seq) { return {false, seq}; }
  bool is_any = true;
  int64_t seq = 0;
};

// The lease a progress write is made under. The write fails (LeaseLost), and nothing of its
// transaction commits, once another process has taken the slice.
struct Fence {
  uint32_t slice = 0;
  int64_t epoch = 0;
};

// A consumer group's progress on one stream, recorded in the same transaction as an append.
struct ProgressMark {
  std::string group_id;
  std::string stream_id;
  int64_t seq = 0;
  std::optional<Fence> fence = std::nullopt;  // none: an operator's write, not a runner's
  // The runner took the stream's events before these as handled without reading its progress since
  // (a stream new to it): a projector's transaction (SQL, state-stored or event-sourced) makes sure none of them
  // was skipped.
  bool check_skipped = false;
};

struct AppendRequest {
  std::string stream_id;
  ExpectedSeq expected = ExpectedSeq::any();
  std::vector<Message> messages;  // ids set by the producer; seq, position and created_at are assigned
  std::optional<ProgressMark> mark = std::nullopt;  // written only if the append succeeds
};

struct AppendOutcome {
  // lease_lost: the mark's fence failed; unavailable: the database could not be reached (try again)
  enum class Status { appended, conflict, invalid, lease_lost, unavailable };
  Status status = Status::invalid;
  std::vector<Message> messages;  // as stored (also when an idempotent retry found them already there)
  int64_t head_seq = 0;           // the stream's head after the append, or its actual head on conflict
  std::string error;              // why, when invalid
};

// A place in the commit-safe global feed: (writing transaction id, position).
struct FeedCursor {
  uint64_t xid = 0;
  int64_t position = 0;
  std::string str() const;
  static FeedCursor parse(std::string_view text);  // throws BadInput
  auto operator<=>(const FeedCursor&) const = default;
};

struct FeedFilter {
  std::vector<std::string> types;  // empty: every type
  uint32_t slice_count = 1;        // the feed split by stream_hash(stream_id) % slice_count
  std::vector<uint32_t> slices;    // the slices read (empty: all of them)
  bool matches(std::string_view stream_id, const std::string& type) const;
};

struct FeedEntry {
  Message message;
  FeedCursor cursor;
};

// A page of the feed as the store returned it, decoded on demand: a reader can start reading the
// next page (after `last`) before it decodes this one.
struct FeedPage {
  FeedCursor head;  // the feed head read before the page: a short page holds every match up to it
  size_t size = 0;
  FeedCursor last;  // the cursor of its last entry (when it has one)
  std::function<std::vector<FeedEntry>()> decode;  // once
};

struct StreamRange {
  int64_t after_seq = 0;
  std::optional<int64_t> upto_seq;      // inclusive
  std::optional<Timestamp> upto_time;  // inclusive, by created_at
  std::optional<size_t> limit = std::nullopt;  // at most this many (the first ones in the range)
};

struct Snapshot {
  std::string stream_id;
  int64_t seq = 0;
  int state_revision = 1;
  Json state;
};

struct StreamInfo {
  std::string stream_id;
  int64_t head_seq = 0;
  Timestamp updated_at{};
};

// A scheduled message that fell due but could not enter its stream (its id is already in another
// stream, it no longer passes validation, it cannot be read). It is kept, with the reason, and
// never promoted again: an operator decides (`cairn status` lists it).
struct UndeliverableMessage {
  std::string id;
  std::string stream_id;
  Timestamp due{};
  std::string error;
};

// The scheduled messages still to be delivered (undeliverable ones aside).
struct ScheduleSummary {
  int64_t pending = 0;
  std::optional<Timestamp> next_due;  // the earliest due time; unset when none is pending
};

// What one promotion round did.
struct Promotion {
  std::vector<Message> appended;
  std::vector<UndeliverableMessage> undeliverable;  // found undeliverable in this round
  bool empty() const { return appended.empty() && undeliverable.empty(); }
};

// Consumer groups: durable progress per (group, slice) and per (group, stream).
// Where a new consumer group starts reading: the beginning, the current head, or after a cursor.
struct StartFrom {
  enum class Kind { beginning, now, after };
  static StartFrom beginning() { return {Kind::beginning, {}}; }
  static StartFrom now() { return {Kind::now, {}}; }
  static StartFrom after(FeedCursor cursor) { return {Kind::after, cursor}; }
  // The first cursor of a new group; `head` gives the current feed head when it is needed.
  template <class Head>
  FeedCursor first_cursor(Head head) const {
    return kind == Kind::now ? head() : kind == Kind::after ? cursor : FeedCursor{};
  }
  Kind kind = Kind::beginning;
  FeedCursor cursor;
};

// One key's view in a state-stored or event-sourced projector's read model.
struct ProjectionView {
  std::string key;
  Json state;
};

struct GroupState {
  std::string group_id;
  bool active = true;
  uint32_t slice_count = 1;
  int64_t generation = 1;
  FeedCursor replay_until;  // events at or before it are re-deliveries after a reset
  // The event types the group reads: the union over every version of it that ran (sorted).
  std::vector<std::string> types;
};

// What a process brings to a group: its slice count and the types it handles (sorted).
struct GroupShape {
  uint32_t slice_count = 1;
  std::vector<std::string> types;
};

// How a process's shape fits the stored one.
struct ShapeCheck {
  enum class Verdict { same, adopted, refused };
  Verdict verdict = Verdict::same;
  GroupState group;    // as stored afterwards
  std::string reason;  // why refused, with the way forward
};

struct StreamProgress {
  std::string stream_id;
  int64_t seq = 0;  // last handled
  bool stopped = false;
  int64_t failed_seq = 0;  // the event that failed (0: none pending)
  std::string message_id;
  std::string error;
  int attempts = 0;
};

struct SliceStatus {
  uint32_t slice = 0;
  FeedCursor cursor;
  std::string owner;
  int64_t lag_events = 0;
  double lag_seconds = 0;
};

// The transaction that holds the feed's horizon back (a backend's, or a prepared one's).
struct HorizonHolder {
  int pid = 0;               // 0 for a prepared transaction: no backend runs it any more
  std::string prepared_gid;  // the PREPARE TRANSACTION name, for a prepared transaction
  std::string application_name, state, database, user;
  double transaction_seconds = 0;       // how long it has been open (prepared: since it was prepared)
  std::optional<Timestamp> query_start;  // its current or last statement's start
};

// Why the feed may stall: it reads only below the oldest transaction still running anywhere in
// the PostgreSQL cluster (docs/SCHEMA.md), so one long transaction holds back every consumer group.
struct FeedHealth {
  uint64_t horizon_xid = 0;  // the feed reads only below this transaction id
  bool held = false;         // committed rows wait behind a transaction with that id, still running
  // Unset when no transaction holds the horizon, or when this role may not see the one that does
  // (other roles' sessions need pg_read_all_stats).
  std::optional<HorizonHolder> holder;
  double age_seconds() const { return holder ? holder->transaction_seconds : 0; }
};

// Who shares a group: the processes that joined it and the live owner of each slice.
struct GroupCensus {
  size_t members = 0;
  std::vector<std::string> owners;  // per slice; empty when nobody holds it
};

// A process's part in a group, from join_group until destroyed (or the process dies): members
// count each other to take fair shares of the slices.
class GroupMembership {
 public:
  virtual ~GroupMembership() = default;
  virtual GroupCensus census() = 0;
};

// Held while a process owns a (group, slice); released on destruction or when the process dies.
class SliceLease {
 public:
  explicit SliceLease(Fence fence) : fence_(fence) {}
  virtual ~SliceLease() = default;
  virtual bool alive() = 0;  // false once ownership may have been lost (e.g. the database restarted)
  // Frees the lease for other processes once alive() has not been asked for `silence`: its
  // holder is taken for frozen, and its later fenced writes fail. (The memory store's leases
  // live as long as their holders: no other process shares it.)
  virtual void free_when_silent(std::chrono::milliseconds silence) = 0;
  // What every progress write of this owner carries.
  Fence fence() const { return fence_; }

 private:
  Fence fence_;
};

class SqlTransactions;  // <cairn/sql_projector.hpp>: a store whose log lives in PostgreSQL offers them

class Store {
 public:
  virtual ~Store() = default;

  // Transactions on the database that holds the log, for SQL projectors; none (nullptr) when the
  // log is elsewhere. A wrapping store forwards its inner store's.
  virtual SqlTransactions* sql() { return nullptr; }

  // Several streams in one transaction; each request succeeds or fails on its own.
  virtual std::vector<AppendOutcome> append_many(std::vector<AppendRequest> requests) = 0;

  // One stream, atomically. Throws ConcurrencyConflict or BadInput; nothing is written then.
  std::vector<Message> append(std::string stream_id, ExpectedSeq expected, std::vector<Message> messages);

  // What a writer makes of a stream's newer messages, under its write lock: the append, or none.
  using LockedDecide = std::function<std::optional<AppendRequest>(const std::vector<Message>& newer)>;
  // Takes the stream's write lock, reads what it holds after `after_seq`, and appends what `decide`
  // makes of that, in one transaction: no other writer can append in between, so the append cannot
  // conflict and contention always makes progress. Empty when `decide` returns none (nothing is
  // written). `decide` may run more than once (after a lost connection); it must not call the store.
  virtual std::optional<AppendOutcome> append_under_lock(const std::string& stream_id, int64_t after_seq,
                                                         const LockedDecide& decide) = 0;

  virtual std::vector<Message> read_stream(std::string_view stream_id, const StreamRange& range = {}) = 0;
  virtual int64_t head_seq(std::string_view stream_id) = 0;
  virtual std::optional<Message> find_message(std::string_view id) = 0;

  // Never returns an entry while one that sorts before it can still commit.
  virtual std::vector<FeedEntry> read_feed(FeedCursor after, size_t limit, const FeedFilter& filter = {}) = 0;
  // The same entries as a page, with the feed head (a store that decodes rows does so in `decode`).
  virtual FeedPage read_feed_page(FeedCursor after, size_t limit, const FeedFilter& filter);

  // The newest cursor below the commit horizon: every entry at or before it is final.
  virtual FeedCursor feed_head() = 0;
  // The commit horizon and what holds it back (the memory store's never is).
  virtual FeedHealth feed_health() = 0;

  // The messages carrying this correlation id, in log order (the first `limit` of them).
  virtual std::vector<Message> read_correlation(std::string_view correlation_id,
                                                size_t limit = std::numeric_limits<size_t>::max()) = 0;

  virtual void save_snapshot(const Snapshot& snapshot) = 0;
  virtual std::optional<Snapshot> load_snapshot(std::string_view stream_id) = 0;

  // A message that enters its stream (at the end) once `due` has passed and a promoter runs.
  // Validated now, as an append would be; an id that is already scheduled is ignored.
  virtual void schedule(Message message, Timestamp due) = 0;
  // Appends the due messages; concurrent promoters never append one twice. One that cannot be
  // appended is kept as undeliverable and does not hold up the others.
  virtual Promotion promote_due(Timestamp now, size_t limit = 100) = 0;
  // The scheduled messages kept as undeliverable, oldest due first.
  virtual std::vector<UndeliverableMessage> undeliverable_messages(size_t limit = 100) = 0;
  virtual ScheduleSummary schedule_summary() = 0;

  // Most recently written first; only the streams whose id starts with `prefix`, when one is given.
  virtual std::vector<StreamInfo> list_streams(size_t limit = 100, std::string_view prefix = {}) = 0;

  // -- consumer groups --
  // Creates the group if it is new (its cursors at the start or at the current head); returns it.
  virtual GroupState ensure_group(const std::string& group_id, uint32_t slice_count, StartFrom start) = 0;
  // Compares a process's shape with the stored one. Equal: `same`. More types, the same slice
  // count, and no event of the added types already passed by a cursor: the union is stored and
  // the generation bumped, so no batch read with the old types can save its cursor (`adopted`).
  // Anything else: `refused`, with the reason. A group with no stored types takes this shape.
  virtual ShapeCheck check_shape(const std::string& group_id, const GroupShape& shape) = 0;
  virtual std::optional<GroupState> find_group(const std::string& group_id) = 0;
  virtual std::vector<GroupState> list_groups() = 0;
  virtual FeedCursor load_cursor(const std::string& group_id, uint32_t slice) = 0;
  // Whether the cursor of the stream's slice has passed its event at `seq` (false when there is
  // no such event). The group's runners handled it, unless the stream stopped before it.
  virtual bool cursor_passed(const std::string& group_id, std::string_view stream_id, int64_t seq) = 0;
  // Saves a slice's cursor and its batch's stream progress in one transaction; false (nothing
  // saved) when the group was reset or reshaped since `generation`. Throws LeaseLost.
  virtual bool save_progress(const std::string& group_id, Fence fence, int64_t generation, FeedCursor cursor,
                             const std::vector<ProgressMark>& marks) = 0;
  bool save_cursor(const std::string& group_id, Fence fence, int64_t generation, FeedCursor cursor) {
    return save_progress(group_id, fence, generation, cursor, {});
  }
  // The progress rows that exist for these streams. A runner writes a side-effect stream's row only while
  // the stream is ahead of its slice's cursor, or stops; streams never handled have none.
  virtual std::vector<StreamProgress> load_progress(const std::string& group_id,
                                                    const std::vector<std::string>& stream_ids) = 0;
  // Streams that failed: stopped ones, and resumed ones whose failed event is still to be re-handled.
  virtual std::vector<StreamProgress> failed_streams(const std::string& group_id) = 0;
  // Never moves a stream's seq backwards. Every write below that takes a fence throws LeaseLost
  // when it is stale.
  virtual void mark_handled(const ProgressMark& mark) = 0;
  // Records where the stream stopped: handled up to failure.seq (never backwards), failed at failure.failed_seq.
  virtual void stop_stream(const std::string& group_id, const StreamProgress& failure, std::optional<Fence> fence) = 0;
  // Lets a stopped stream flow again from its failed event, or (skip) from the one after it. The
  // failure stays recorded (failed_seq) until a runner has caught the stream up and cleared it.
  virtual void resume_stream(const std::string& group_id, const std::string& stream_id, bool skip) = 0;
  virtual void clear_failure(const std::string& group_id, const std::string& stream_id, std::optional<Fence> fence) = 0;
  virtual void set_group_active(const std::string& group_id, bool active) = 0;
  // Re-delivers history: cursors to the start, progress cleared, `replaying` up to the current
  // head. With a shape, the group takes it (types and slice count: a reset may re-slice).
  virtual void reset_group(const std::string& group_id, const std::optional<GroupShape>& shape = std::nullopt) = 0;
  virtual std::vector<SliceStatus> slice_status(const std::string& group_id) = 0;
  virtual std::unique_ptr<GroupMembership> join_group(const std::string& group_id) = 0;
  // Null when another process owns the slice. Taking a slice gives it a new epoch (fence).
  virtual std::unique_ptr<SliceLease> try_lease_slice(const std::string& group_id, uint32_t slice,
                                                      const std::string& owner) = 0;

  // -- state-stored projections --
  // In one transaction: unless the stream is already past mark.seq, turns the (group, key) state
  // (null when new) into `evolve(state)` and records the mark (fenced); a null result removes the
  // key. Concurrent updates of one key queue behind each other. Returns whether `evolve` was applied.
  // A mark with `check_skipped` passes no event of `types` (the projector's; none: all) after the
  // group's start that lies between the stored mark and it: StreamGap, and nothing changes.
  virtual bool update_projection(const std::string& key, const ProgressMark& mark,
                                 const std::vector<std::string>& types,
                                 const std::function<Json(Json state)>& evolve) = 0;
  virtual std::optional<Json> load_projection(const std::string& group_id, const std::string& key) = 0;
  // A page of the group's views in key order: the keys after `after_key` ("" from the first), at
  // most `limit` of them. The order is the database's collation on PostgreSQL, bytes in memory.
  virtual std::vector<ProjectionView> list_projections(const std::string& group_id, const std::string& after_key,
                                                       size_t limit) = 0;
  virtual void clear_projections(const std::string& group_id) = 0;

  const Limits& limits() const { return limits_; }

 protected:
  explicit Store(Limits limits) : limits_(limits) {}
  // Validates every request; returns the error per request (empty when valid), including duplicate ids.
  std::vector<std::string> validate_requests(const std::vector<AppendRequest>& requests) const;
  // A promotion round's result: what was appended, and which of the `claimed` messages (one per
  // outcome, in order) could not be, with the reason.
  static Promotion sort_promotion(std::vector<UndeliverableMessage> claimed, std::vector<AppendOutcome> outcomes);

 private:
  Limits limits_;
};

// The messages per read when a whole range is walked (for_each_message).
inline constexpr size_t stream_page = 1000;

// Calls `fn` with each message of the range (up to range.limit of them, when set), in seq order,
// reading `page` messages at a time: memory stays bounded however long the stream is. Each page is
// its own read, so an open-ended range also yields what was appended meanwhile.
void for_each_message(Store& store, std::string_view stream_id, StreamRange range,
                      const std::function<void(Message&&)>& fn, size_t page = stream_page);

// Memory when `database_url` is empty, PostgreSQL otherwise.
std::unique_ptr<Store> open_store(const std::string& database_url, Limits limits = {});

}  // namespace cairn
