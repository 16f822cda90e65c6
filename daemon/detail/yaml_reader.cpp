#include "taskwatch/detail/yaml_reader.hpp"

#include "taskwatch/detail/bytes.hpp"
#include "taskwatch/detail/message_text.hpp"
#include "taskwatch/detail/utf8.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

namespace taskwatch::detail::yaml {

namespace {

constexpr std::size_t npos = static_cast<std::size_t>(-1);

std::string_view kind_of(const node& n) {
    switch (n.type()) {
    case kind::mapping:
        return "a mapping";
    case kind::sequence:
        return "a list";
    case kind::scalar:
        return "a scalar";
    case kind::null:
        break;
    }
    return "no value";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] =
                std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0u : 1u)});
            diag = up;
        }
    }
    return row[b.size()];
}

// The known key closest to `key`, or empty when none is close: the fewest edits, at most two
// (a typo, a case slip, two letters swapped: "cert_fiel"), else a known key with a unit or word
// tacked on ("timeout_ms").
std::string_view suggestion(std::string_view key, std::initializer_list<std::string_view> known) {
    std::string_view best;
    std::size_t best_rank = 4;
    for (auto k : known) {
        const auto edits = edit_distance(key, k);
        const bool extends =
            k.size() >= 4 && key.size() >= 4 && (key.starts_with(k) || k.starts_with(key));
        const std::size_t rank = edits <= 2 && edits < k.size() ? edits : extends ? 3 : 4;
        if (rank < best_rank) {
            best = k;
            best_rank = rank;
        }
    }
    return best;
}

} // namespace

source source::of(const std::string& file) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(std::filesystem::path(file), ec);
    return {file, ec ? std::string(".") : abs.lexically_normal().parent_path().string()};
}

std::string message(const source& s, int line, std::string_view path, std::string_view problem) {
    std::string msg = s.file;
    if (line > 0) {
        msg += ':';
        msg += std::to_string(line);
    }
    msg += ": ";
    if (!path.empty()) {
        msg += path;
        msg += ": ";
    }
    msg += problem;
    return one_line(msg);
}

void fail(const source& s, int line, std::string_view path, std::string_view problem) {
    throw read_error(message(s, line, path, problem));
}

std::string cannot_read(const std::string& path, const detail::read_error& why) {
    return one_line(path + ": cannot read: " + why.message);
}

std::optional<std::string> utf8_problem(std::string_view s) {
    auto at = first_invalid_utf8(s);
    if (!at) return std::nullopt;
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(bytes_of(s)[*at]));
    return "not valid UTF-8 (byte " + std::string(hex) + " at offset " + std::to_string(*at) + ")";
}

// field

field::field(const source& src, yaml::node n)
    : field(&src, n, std::max(n.line(), 1), nullptr, {}, npos) {}

field::field(const source* src, yaml::node n, int line, std::shared_ptr<const std::string> parent,
             std::string_view key, std::size_t index)
    : src_(src)
    , node_(n)
    , line_(line)
    , parent_(std::move(parent))
    , key_(key)
    , index_(index) {}

std::string field::path() const {
    if (!parent_) return {};
    if (index_ != npos) return *parent_ + "[" + std::to_string(index_) + "]";
    if (parent_->empty()) return std::string(key_);
    return *parent_ + "." + std::string(key_);
}

std::string field::message(std::string_view problem) const {
    return yaml::message(*src_, line_, path(), problem);
}

void field::fail(std::string_view problem) const {
    throw read_error(message(problem));
}

void field::wrong_type(std::string_view expected) const {
    fail("expected " + std::string(expected) + ", got " +
         (node_.is_scalar() ? quote(node_.text()) : std::string(kind_of(node_))));
}

std::string field::string(bool allow_empty) const {
    if (!node_.is_scalar()) wrong_type("a string");
    const auto s = node_.text();
    if (auto bad = utf8_problem(s)) fail(*bad);
    if (s.empty() && !allow_empty) fail("must not be empty");
    return std::string(s);
}

std::uint64_t field::integer(std::uint64_t min, std::uint64_t max) const {
    if (!node_.is_scalar()) wrong_type("an integer");
    const auto s = node_.text();
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size())
        fail("expected an integer, got " + quote(s));
    if (ec == std::errc::result_out_of_range || v < min || v > max)
        fail("must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
             quote(s));
    return v;
}

double field::number() const {
    if (!node_.is_scalar()) wrong_type("a number");
    const auto s = node_.text();
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v))
        fail("expected a number, got " + quote(s));
    return v;
}

bool field::boolean() const {
    if (!node_.is_scalar()) wrong_type("true or false");
    std::string s(node_.text());
    std::transform(s.begin(), s.end(), s.begin(), [](char ch) {
        return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch;
    });
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
    wrong_type("true or false");
}

items field::list() const {
    if (!node_.is_sequence()) wrong_type("a list");
    return items(*this);
}

// items

items::items(const field& sequence)
    : src_(sequence.src_)
    , node_(sequence.node_)
    , path_(std::make_shared<const std::string>(sequence.path())) {}

field items::operator[](std::size_t i) const {
    auto n = node_.item(i);
    return field(src_, n, n.line(), path_, {}, i);
}

// mapping

mapping::mapping(const field& f)
    : self_(f)
    , path_(std::make_shared<const std::string>(f.path())) {
    if (!f.node().is_mapping()) f.wrong_type("a mapping");
    const auto n = f.node();
    std::map<std::string_view, int> seen;
    entries_.reserve(n.size());
    for (std::size_t i = 0; i < n.size(); ++i) {
        const auto k = n.key(i);
        const int kl = k.line();
        if (!k.is_scalar()) fail(kl, "keys must be strings");
        const auto key = k.text();
        if (auto bad = utf8_problem(key)) fail(kl, "a key is " + *bad);
        if (auto [pos, inserted] = seen.emplace(key, kl); !inserted)
            fail(kl, "key " + quote(key) + " appears twice (first at line " +
                         std::to_string(pos->second) + ")");
        entries_.push_back(entry{key, field(f.src_, n.value(i), kl, path_, key, npos)});
    }
}

void mapping::only(std::initializer_list<std::string_view> known) const {
    for (const auto& e : entries_) {
        if (std::find(known.begin(), known.end(), e.key) != known.end()) continue;
        std::string problem = "unknown key " + quote(e.key);
        if (auto best = suggestion(e.key, known); !best.empty())
            problem += " (did you mean " + quote(best) + "?)";
        fail(e.value.line(), problem);
    }
}

std::optional<field> mapping::get(std::string_view key) const {
    for (const auto& e : entries_) {
        if (e.key != key) continue;
        if (e.value.is_null()) e.value.fail("no value (remove the key to get the default)");
        return e.value;
    }
    return std::nullopt;
}

field mapping::require(std::string_view key) const {
    if (auto f = get(key)) return *f;
    fail("missing required key " + quote(key));
}

bool mapping::has(std::string_view key) const {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const entry& e) { return e.key == key; });
}

void mapping::fail(std::string_view problem) const {
    fail(line(), problem);
}

void mapping::fail(int line, std::string_view problem) const {
    yaml::fail(self_.src(), line, *path_, problem);
}

// document

document::document(const source& src, std::string_view text)
    : src_(&src) {
    try {
        tree_ = std::make_unique<tree>(text);
    } catch (const parse_error& e) {
        std::string problem = e.what();
        if (e.column > 0) problem += " (column " + std::to_string(e.column) + ")";
        yaml::fail(src, e.line, "", problem);
    }
    if (tree_->documents() > 1)
        yaml::fail(src, tree_->document(1).line(), "", "more than one YAML document");
}

std::optional<field> document::root() const {
    if (tree_->documents() == 0) return std::nullopt;
    return field(*src_, tree_->document(0));
}

} // namespace taskwatch::detail::yaml
