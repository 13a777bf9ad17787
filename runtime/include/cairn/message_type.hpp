// Typed messages: a plain struct declares its type name, revision and JSON fields in one place.
//
//   struct ItemAdded { std::string sku; int quantity; };
//   CAIRN_MESSAGE(ItemAdded, "carts.item_added", 1, sku, quantity)
//
// Use CAIRN_MESSAGE at global namespace scope. Field types need nlohmann_json conversions
// (built in for strings, numbers, bools, vectors and maps; std::optional fields may be absent).
#pragma once

#include <optional>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include <cairn/errors.hpp>
#include <cairn/message.hpp>

namespace cairn {

template <class T>
struct MessageTraits;  // specialised by CAIRN_MESSAGE

template <class T>
concept TypedMessage = requires {
  { MessageTraits<T>::name } -> std::convertible_to<const char*>;
  { MessageTraits<T>::revision } -> std::convertible_to<int>;
};

template <class T>
constexpr const char* type_name() { return MessageTraits<T>::name; }

namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class Field>
void write_field(Json& out, const char* name, const Field& value) {
  if constexpr (is_optional<Field>::value) {
    if (value) out[name] = *value;
  } else {
    out[name] = value;
  }
}

// nlohmann converts leniently (10.7 -> 10, true -> 1, 2^40+5 -> 5 in an int): a decoded value
// must encode back to the numbers and booleans it came from. Returns the first that did not.
inline const Json* first_lossy_value(const Json& given, const Json& decoded) {
  if (given.is_number() || given.is_boolean()) {
    bool same_kind = given.is_boolean() ? decoded.is_boolean() : decoded.is_number();
    return same_kind && given == decoded ? nullptr : &given;  // 1.0 == 1 holds; 10.7 == 10 does not
  }
  if (given.is_array() && decoded.is_array() && given.size() == decoded.size()) {
    for (size_t i = 0; i < given.size(); ++i)
      if (auto* bad = first_lossy_value(given[i], decoded[i])) return bad;
  } else if (given.is_object() && decoded.is_object()) {
    for (auto it = decoded.begin(); it != decoded.end(); ++it)
      if (auto found = given.find(it.key()); found != given.end())
        if (auto* bad = first_lossy_value(*found, *it)) return bad;
  }
  return nullptr;
}

template <class Field>
void read_field(const Json& in, const char* type, const char* name, Field& value) {
  auto it = in.find(name);
  if (it == in.end() || (is_optional<Field>::value && it->is_null())) {
    if constexpr (is_optional<Field>::value) {
      value.reset();
      return;
    } else {
      throw BadInput(std::string(type) + ": missing field '" + name + "'");
    }
  }
  try {
    if constexpr (is_optional<Field>::value)
      value = it->template get<typename Field::value_type>();
    else
      it->get_to(value);
  } catch (const Json::exception& e) {
    throw BadInput(std::string(type) + ": field '" + name + "' has the wrong type (" + it->type_name() +
                   "): " + e.what());
  }
  if constexpr (!std::is_same_v<Field, std::string>) {
    Json decoded;
    if constexpr (is_optional<Field>::value)
      decoded = *value;
    else
      decoded = value;
    if (const Json* bad = first_lossy_value(*it, decoded))
      throw BadInput(std::string(type) + ": field '" + name + "' does not fit its type: " + bad->dump());
  }
}

}  // namespace detail

template <TypedMessage T>
Json to_payload(const T& message) {
  Json out = Json::object();
  MessageTraits<T>::fields(message, [&](const char* name, const auto& value) { detail::write_field(out, name, value); });
  return out;
}

// Throws BadInput naming the message type and the field that does not fit.
template <TypedMessage T>
T from_payload(const Json& payload) {
  if (!payload.is_object()) throw BadInput(std::string(type_name<T>()) + ": payload must be a JSON object");
  T message{};
  MessageTraits<T>::fields(
      message, [&](const char* name, auto& value) { detail::read_field(payload, type_name<T>(), name, value); });
  return message;
}

}  // namespace cairn

#define CAIRN_DETAIL_FIELD(field) visit(#field, value.field);

#define CAIRN_MESSAGE(Type, type_name_, revision_, ...)                                       \
  template <>                                                                                \
  struct cairn::MessageTraits<Type> {                                                        \
    static constexpr const char* name = type_name_;                                          \
    static constexpr int revision = revision_;                                               \
    template <class Value, class Visit>                                                      \
    static void fields([[maybe_unused]] Value& value, [[maybe_unused]] Visit&& visit) {      \
      __VA_OPT__(NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(CAIRN_DETAIL_FIELD, __VA_ARGS__))) \
    }                                                                                        \
  };
