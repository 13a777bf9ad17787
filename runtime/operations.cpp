#include "runtime/operations.hpp"

#include <algorithm>
#include <map>
#include <functional>

#include <cairn/errors.hpp>
#include <cairn/validation.hpp>

namespace cairn::operations {
namespace {

Json holder_json(const HorizonHolder& h) {
  return {{"pid", h.pid},
          {"prepared_gid", h.prepared_gid},
          {"application_name", h.application_name},
          {"state", h.state},
          {"database", h.database},
          {"user", h.user},
          {"transaction_seconds", h.transaction_seconds},
          {"query_start", h.query_start ? format_time(*h.query_start) : ""}};
}

bool looks_like_uuid(const std::string& text) {
  try {
    validate_uuid(text, "id");
    return true;
  } catch (const BadInput&) {
    return false;
  }
}

}  // namespace

void validate_group(const std::string& group) { validate_type(group, {}, "consumer group"); }

GroupState require_group(Store& store, const std::string& group) {
  validate_group(group);
  auto found = store.find_group(group);
  if (!found) throw BadInput("no consumer group '" + group + "' (groups appear once a worker has run them)");
  return *found;
}

// Every group reads the feed only below the horizon, so one old transaction stalls them all.
Json feed_json(const FeedHealth& health, double warn_seconds) {
  return {{"horizon_xid", health.horizon_xid},
          {"held", health.held},
          {"age_seconds", health.age_seconds()},
          {"stalled", health.age_seconds() > warn_seconds},
          {"holder", health.holder ? holder_json(*health.holder) : Json()}};
}

// Scheduled messages are not in the feed until they fall due, so no group's lag shows them.
Json schedule_json(const ScheduleSummary& summary) {
  return {{"pending", summary.pending}, {"next_due", summary.next_due ? Json(format_time(*summary.next_due)) : Json()}};
}

Json undeliverable_json(const UndeliverableMessage& message) {
  return {{"id", message.id}, {"stream_id", message.stream_id}, {"due", format_time(message.due)}, {"error", message.error}};
}

Json group_status(Store& store, const GroupState& group) {
  Json slices = Json::array(), stopped = Json::array();
  int64_t lag_events = 0;
  double lag_seconds = 0;
  for (const auto& s : store.slice_status(group.group_id)) {
    lag_events += s.lag_events;
    lag_seconds = std::max(lag_seconds, s.lag_seconds);
    slices.push_back({{"slice", s.slice},
                      {"cursor", s.cursor.str()},
                      {"owner", s.owner},
                      {"lag_events", s.lag_events},
                      {"lag_seconds", s.lag_seconds}});
  }
  for (const auto& f : store.failed_streams(group.group_id))
    stopped.push_back({{"stream_id", f.stream_id},
                       {"stopped", f.stopped},
                       {"seq", f.failed_seq},
                       {"message_id", f.message_id},
                       {"attempts", f.attempts},
                       {"error", f.error}});
  return {{"group", group.group_id},       {"state", group.active ? "active" : "stopped"},
          {"lag_events", lag_events},      {"lag_seconds", lag_seconds},
          {"slice_count", group.slice_count}, {"slices", slices},
          {"failed_streams", stopped}};
}

void stop_group(Store& store, const std::string& group) {
  require_group(store, group);
  store.set_group_active(group, false);
}

void resume_group(Store& store, const std::string& group) {
  require_group(store, group);
  store.set_group_active(group, true);
}

void resume_stream(Store& store, const std::string& group, const std::string& stream, bool skip) {
  validate_stream_id(stream);
  require_group(store, group);
  store.resume_stream(group, stream, skip);
}

Json stream_page(Store& store, const std::string& stream, int64_t after_seq, size_t limit) {
  validate_stream_id(stream);
  if (after_seq < 0) throw BadInput("after must be 0 or more, got " + std::to_string(after_seq));
  if (limit < 1 || limit > cairn::stream_page) throw BadInput("limit must be in [1, " + std::to_string(cairn::stream_page) + "]");
  // One more than asked for tells whether another page follows.
  auto messages = store.read_stream(stream, {after_seq, std::nullopt, std::nullopt, limit + 1});
  bool more = messages.size() > limit;
  if (more) messages.pop_back();
  Json out = Json::array();
  for (const auto& m : messages) out.push_back(Json(m));
  return {{"stream_id", stream},
          {"head_seq", store.head_seq(stream)},
          {"messages", out},
          {"next_after", more ? Json(messages.back().seq) : Json()}};
}

Trail read_trail(Store& store, const std::string& id, size_t limit) {
  validate_trace_id(id, "id");
  Trail trail;
  trail.correlation_id = id;
  if (looks_like_uuid(id))
    if (auto m = store.find_message(id)) trail.correlation_id = metadata_string(m->metadata, "correlation_id");
  trail.messages = store.read_correlation(trail.correlation_id, limit + 1);
  if (trail.messages.empty()) throw BadInput("no message has id or correlation id '" + id + "'");
  trail.cut = trail.messages.size() > limit;
  if (trail.cut) trail.messages.pop_back();
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < trail.messages.size(); ++i) index.emplace(trail.messages[i].id, i);
  trail.children.resize(trail.messages.size());
  for (size_t i = 0; i < trail.messages.size(); ++i) {
    const auto& m = trail.messages[i];
    auto cause = metadata_string(m.metadata, "causation_id");
    auto parent = cause.empty() || cause == m.id ? index.end() : index.find(cause);
    if (parent != index.end())
      trail.children[parent->second].push_back(i);
    else
      trail.roots.push_back(i);
  }
  return trail;
}

void walk(const Trail& trail, const std::function<void(const Message&, size_t depth)>& visit) {
  // Without recursion: a chain of causes can be as deep as the trail is long.
  std::vector<std::pair<size_t, size_t>> stack;  // (message, depth), the next to visit on top
  for (auto root = trail.roots.rbegin(); root != trail.roots.rend(); ++root) stack.push_back({*root, 0});
  while (!stack.empty()) {
    auto [index, depth] = stack.back();
    stack.pop_back();
    visit(trail.messages[index], depth);
    const auto& children = trail.children[index];
    for (auto child = children.rbegin(); child != children.rend(); ++child) stack.push_back({*child, depth + 1});
  }
}

Json trail_json(const Trail& trail) {
  std::map<std::string_view, size_t> children;
  for (size_t i = 0; i < trail.messages.size(); ++i) children[trail.messages[i].id] = trail.children[i].size();
  Json nodes = Json::array();
  walk(trail, [&](const Message& m, size_t depth) {
    Json node = m;
    node["depth"] = depth;
    node["parent"] = depth == 0 ? Json() : Json(metadata_string(m.metadata, "causation_id"));
    node["children"] = children[m.id];
    nodes.push_back(std::move(node));
  });
  return {{"correlation_id", trail.correlation_id}, {"cut", trail.cut}, {"count", nodes.size()}, {"nodes", nodes}};
}

}  // namespace cairn::operations
