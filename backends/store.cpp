#include <cairn/store.hpp>

#include <algorithm>
#include <charconv>
#include <unordered_set>

#include "backends/append_rules.hpp"
#include "backends/memory/memory_store.hpp"
#include "backends/postgres/postgres_store.hpp"
#include <cairn/errors.hpp>

namespace cairn {

std::vector<Message> Store::append(std::string stream_id, ExpectedSeq expected, std::vector<Message> messages) {
  std::vector<AppendRequest> one;
  one.push_back({stream_id, expected, std::move(messages)});
  auto outcome = std::move(append_many(std::move(one)).front());
  switch (outcome.status) {
    case AppendOutcome::Status::appended: return std::move(outcome.messages);
    case AppendOutcome::Status::conflict:
      throw ConcurrencyConflict(std::move(stream_id), expected.seq, outcome.head_seq);
    case AppendOutcome::Status::invalid: throw BadInput(outcome.error);
    case AppendOutcome::Status::lease_lost: throw LeaseLost(outcome.error);
    case AppendOutcome::Status::unavailable: throw Unavailable(outcome.error);
  }
  throw StoreError("unreachable append outcome");
}

void for_each_message(Store& store, std::string_view stream_id, StreamRange range,
                      const std::function<void(Message&&)>& fn, size_t page) {
  if (page == 0) throw BadInput("a page must hold at least one message");
  size_t left = range.limit.value_or(std::numeric_limits<size_t>::max());
  while (left > 0) {
    range.limit = std::min(page, left);
    auto messages = store.read_stream(stream_id, range);
    for (auto& m : messages) {
      range.after_seq = m.seq;
      fn(std::move(m));
    }
    if (messages.size() < *range.limit) return;
    left -= messages.size();
  }
}

FeedPage Store::read_feed_page(FeedCursor after, size_t limit, const FeedFilter& filter) {
  auto head = feed_head();
  auto entries = std::make_shared<std::vector<FeedEntry>>(read_feed(after, limit, filter));
  FeedPage page{head, entries->size(), entries->empty() ? FeedCursor{} : entries->back().cursor, {}};
  page.decode = [entries] { return std::move(*entries); };
  return page;
}

std::vector<std::string> Store::validate_requests(const std::vector<AppendRequest>& requests) const {
  std::vector<std::string> errors(requests.size());
  std::unordered_set<std::string> ids;
  for (size_t i = 0; i < requests.size(); ++i) {
    try {
      validate_stream_id(requests[i].stream_id, limits_);
      if (requests[i].messages.empty()) throw BadInput("nothing to append to '" + requests[i].stream_id + "'");
      if (!requests[i].expected.is_any && requests[i].expected.seq < 0)
        throw BadInput("expected seq must not be negative");
      for (const auto& m : requests[i].messages) {
        validate_message(m, limits_);
        if (m.stream_id != requests[i].stream_id)
          throw BadInput("message " + m.id + " names stream '" + m.stream_id + "' but is appended to '" +
                         requests[i].stream_id + "'");
        if (!ids.insert(m.id).second) throw BadInput("message id " + m.id + " appears twice in one append");
      }
    } catch (const BadInput& e) {
      errors[i] = e.what();
    }
  }
  return errors;
}

Promotion Store::sort_promotion(std::vector<UndeliverableMessage> claimed, std::vector<AppendOutcome> outcomes) {
  Promotion promotion;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i].status == AppendOutcome::Status::appended) {
      for (auto& m : outcomes[i].messages) promotion.appended.push_back(std::move(m));
    } else {
      claimed[i].error = outcomes[i].error;
      promotion.undeliverable.push_back(std::move(claimed[i]));
    }
  }
  return promotion;
}

AppendDecision decide_append(const AppendRequest& request, const std::vector<std::optional<Message>>& existing,
                             int64_t head) {
  using Kind = AppendDecision::Kind;
  size_t found = 0;
  for (const auto& e : existing) found += e.has_value();
  if (found == 0) {
    if (!request.expected.is_any && request.expected.seq != head) return {Kind::conflict, {}};
    return {Kind::write, {}};
  }
  // A retry after a lost reply: the very same messages at the very same places.
  int64_t first = existing.front() ? existing.front()->seq : 0;
  bool same_place = found == existing.size() && (request.expected.is_any || first == request.expected.seq + 1);
  for (size_t i = 0; same_place && i < existing.size(); ++i)
    same_place = existing[i]->stream_id == request.stream_id && existing[i]->seq == first + static_cast<int64_t>(i);
  if (same_place) return {Kind::already_stored, {}};
  for (const auto& e : existing)
    if (e)
      return {Kind::invalid, "message id " + e->id + " is already stored in stream '" + e->stream_id + "' at seq " +
                                 std::to_string(e->seq)};
  return {Kind::invalid, "duplicate message id"};
}

std::string FeedCursor::str() const { return std::to_string(xid) + ":" + std::to_string(position); }

FeedCursor FeedCursor::parse(std::string_view text) {
  FeedCursor c;
  auto colon = text.find(':');
  auto bad = [&] { return BadInput("invalid feed cursor '" + std::string(text.substr(0, 60)) + "': expected XID:POSITION"); };
  if (colon == std::string_view::npos) throw bad();
  auto a = std::from_chars(text.data(), text.data() + colon, c.xid);
  auto b = std::from_chars(text.data() + colon + 1, text.data() + text.size(), c.position);
  if (a.ec != std::errc() || a.ptr != text.data() + colon || b.ec != std::errc() ||
      b.ptr != text.data() + text.size() || c.position < 0)
    throw bad();
  return c;
}

bool FeedFilter::matches(std::string_view stream_id, const std::string& type) const {
  if (!types.empty() && std::find(types.begin(), types.end(), type) == types.end()) return false;
  return slice_count <= 1 || slices.empty() ||
         std::find(slices.begin(), slices.end(), stream_hash(stream_id) % slice_count) != slices.end();
}

std::unique_ptr<Store> open_store(const std::string& database_url, Limits limits) {
  if (database_url.empty()) return std::make_unique<MemoryStore>(limits);
  return std::make_unique<PostgresStore>(database_url, limits);
}

}  // namespace cairn
