#pragma once
/// @file Field tables: each parameter of a parameter struct written once, as a row {JSON key,
/// command-line flag, help, member}. The table drives the struct's JSON (the record's
/// `parameters`, a checkpoint's configuration), the reading back of a checkpoint's
/// configuration, and the apps' flags (apps/common.hpp, app::flag_set), so a new parameter is one
/// new row. Library code names a bad parameter by its key (field_error); the apps print the flag.
#include "dynamics/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace glassy {

/// A parameter out of its domain, named by its field: key() is the field's JSON key (e.g.
/// "per_decade"), what() is "<key> <rest>" (e.g. "per_decade must be >= 1"), and an app that
/// knows the field's flag prints "<flag> <rest>" instead (app::flag_set::message).
class field_error : public parameter_error {
public:
    field_error(const std::string& key, const std::string& rest)
        : parameter_error(key + " " + rest), m_key(key), m_rest(rest) {}
    /// The field's JSON key.
    [[nodiscard]] const std::string& key() const noexcept { return m_key; }
    /// The message without the key.
    [[nodiscard]] const std::string& rest() const noexcept { return m_rest; }

private:
    std::string m_key, m_rest;
};

/// A parameter stored as an enum (a choice among names): get gives the value's name, set parses
/// a name (throws field_error for an unknown one). In JSON and on the command line the value is
/// its name.
template <class S>
struct choice_member {
    std::function<std::string(const S&)> get;
    std::function<void(S&, const std::string&)> set;
};

/// A value inside a member struct of S (e.g. options.synthetic.height, which no pointer to a
/// member of S can name): a function that returns a reference to it.
template <class S, class T>
using nested_member = T& (*)(S&);

/// The value that a (non-choice) member designates in s.
template <class S, class M>
[[nodiscard]] auto& member_value(S& s, M m) {
    if constexpr (std::is_member_object_pointer_v<M>) return s.*m;
    else return m(s);
}

/// Where a field's value lives in S.
template <class S>
using field_member = std::variant<int S::*, std::int64_t S::*, std::uint64_t S::*, double S::*, bool S::*,
                                  std::string S::*, nested_member<S, int>, nested_member<S, std::int64_t>,
                                  std::vector<double> S::*, std::vector<std::int64_t> S::*, choice_member<S>>;

/// One parameter of the struct S.
template <class S>
struct field {
    std::string key;          ///< its JSON pointer in the parameters JSON: "/N", "/synthetic/height"
    std::string flag;         ///< the apps' flag, with its "--"; "" when no flag sets it
    std::string help;         ///< the flag's help line
    field_member<S> member;   ///< the value
    bool show_default = true; ///< --help shows the default value
    /// When the value is in the JSON: empty = always (and then reading back requires it); else
    /// only when this returns true (reading back then keeps the default when the key is absent).
    std::function<bool(const S&)> written = {};
    /// The JSON value when it is not the member's value as is (e.g. "infinity"); empty = as is.
    std::function<nlohmann::json(const S&)> to_json = {};
    /// Reads the JSON value back when to_json is set; empty = into the member as is.
    std::function<void(S&, const nlohmann::json&)> from_json = {};
};

/// A struct's field table.
template <class S>
using field_table = std::vector<field<S>>;

/// The field's value as written in JSON.
template <class S>
[[nodiscard]] nlohmann::json field_json(const field<S>& f, const S& s) {
    if (f.to_json) return f.to_json(s);
    return std::visit(
        [&](const auto& m) -> nlohmann::json {
            if constexpr (std::is_same_v<std::decay_t<decltype(m)>, choice_member<S>>) return m.get(s);
            else return member_value(const_cast<S&>(s), m); // only read
        },
        f.member);
}

/// Writes the fields of `s` into j (those whose `written` allows it), at their keys.
template <class S>
void write_fields(const field_table<S>& table, const S& s, nlohmann::json& j) {
    for (const auto& f : table)
        if (!f.written || f.written(s)) j[nlohmann::json::json_pointer(f.key)] = field_json(f, s);
}

/// Reads the fields of j back into s: a field written always must be present; one written
/// conditionally keeps its value in s when absent. Throws nlohmann::json::exception for a
/// missing or mistyped value, field_error from a choice's set.
template <class S>
void read_fields(const field_table<S>& table, const nlohmann::json& j, S& s) {
    for (const auto& f : table) {
        const nlohmann::json::json_pointer at(f.key);
        if (f.written && !j.contains(at)) continue;
        const nlohmann::json& v = j.at(at);
        if (f.from_json) {
            f.from_json(s, v);
            continue;
        }
        std::visit(
            [&](const auto& m) {
                if constexpr (std::is_same_v<std::decay_t<decltype(m)>, choice_member<S>>)
                    m.set(s, v.template get<std::string>());
                else v.get_to(member_value(s, m));
            },
            f.member);
    }
}

} // namespace glassy
