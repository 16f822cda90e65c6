// Reading a YAML config file into settings, the same way for the daemon's config and the web
// config: values with the line and path to blame, type and range checks, mappings that refuse
// unknown keys with a suggestion, and every mistake one line "FILE:LINE: PATH: PROBLEM".
#pragma once

#include "taskwatch/detail/read_file.hpp"
#include "taskwatch/detail/yaml.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskwatch::detail::yaml {

/// A mistake in the file, as the one line to print; each loader rethrows it as its own error.
class read_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The file being read.
struct source {
    std::string file; ///< as given, for messages
    std::string dir;  ///< its absolute, normalised folder, for relative paths ("." if unknown)

    static source of(const std::string& file);
};

/// "FILE:LINE: PATH: PROBLEM" on one line; without ":LINE" when `line` is 0 and without
/// "PATH: " when `path` is empty.
std::string message(const source& s, int line, std::string_view path, std::string_view problem);
[[noreturn]] void fail(const source& s, int line, std::string_view path, std::string_view problem);

/// "PATH: cannot read: WHY" on one line (WHY as read_regular_file says it).
std::string cannot_read(const std::string& path, const detail::read_error& why);

/// The text of the YAML file at `path`, at most `limit` bytes; else throws the loader's own
/// `Error` with cannot_read's line.
template <class Error> std::string file_text(const std::string& path, std::size_t limit) {
    auto text = read_regular_file(path, limit);
    if (!text) throw Error(cannot_read(path, text.error()));
    return std::move(*text);
}

/// "not valid UTF-8 (byte 0xff at offset 2)", or nullopt when `s` is valid UTF-8. The byte is
/// named, never printed: the text is going into a one-line message.
std::optional<std::string> utf8_problem(std::string_view s);

class items;

/// One value of the document with the line and path to blame for it (a mapping's values are
/// blamed on their key's line). Valid while the document lives. The path text is made only
/// when a message needs it: a million list items share their list's.
class field {
public:
    /// The root of a document: line 1 at least, empty path.
    field(const source& src, yaml::node n);

    const source& src() const noexcept { return *src_; }
    yaml::node node() const noexcept { return node_; }
    int line() const noexcept { return line_; }
    std::string path() const;
    bool is_null() const noexcept { return node_.is_null(); }
    /// A scalar's text as written (for messages); empty for the other kinds.
    std::string_view text() const noexcept { return node_.text(); }

    /// message() with this field's line and path.
    std::string message(std::string_view problem) const;
    [[noreturn]] void fail(std::string_view problem) const;
    /// "expected EXPECTED, got " and the scalar quoted, "a list", "a mapping" or "no value".
    [[noreturn]] void wrong_type(std::string_view expected) const;

    /// A scalar as text, which must be valid UTF-8 (labels, IDs and names end up in /metrics,
    /// JSON and logs) and, unless `allow_empty`, not empty.
    std::string string(bool allow_empty = false) const;
    /// Decimal digits only, between `min` and `max`.
    std::uint64_t integer(std::uint64_t min, std::uint64_t max) const;
    /// A finite decimal number.
    double number() const;
    /// true/yes/on or false/no/off, in any case.
    bool boolean() const;
    /// A scalar `parse`d (text -> expected<T, std::string>); a parse error is the problem.
    template <class Parse> auto parsed(std::string_view expected, Parse&& parse) const {
        if (!node_.is_scalar()) wrong_type(expected);
        auto r = std::forward<Parse>(parse)(node_.text());
        if (!r) fail(r.error());
        return std::move(*r);
    }
    /// A sequence's items.
    items list() const;

private:
    friend class items;
    friend class mapping;
    field(const source* src, yaml::node n, int line, std::shared_ptr<const std::string> parent,
          std::string_view key, std::size_t index);

    const source* src_;
    yaml::node node_;
    int line_;
    std::shared_ptr<const std::string> parent_; ///< the parent's path; null at the root
    std::string_view key_;                      ///< in a mapping: the key, in the tree
    std::size_t index_;                         ///< in a sequence: the position, else npos
};

/// A sequence's items as fields, made one at a time ("targets[0].task_ids[7]" at line 12).
class items {
public:
    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = field;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = field;

        field operator*() const { return (*items_)[i_]; }
        iterator& operator++() {
            ++i_;
            return *this;
        }
        bool operator==(const iterator& o) const noexcept { return i_ == o.i_; }

    private:
        friend class items;
        iterator(const items* s, std::size_t i)
            : items_(s)
            , i_(i) {}
        const items* items_;
        std::size_t i_;
    };

    std::size_t size() const noexcept { return node_.size(); }
    bool empty() const noexcept { return size() == 0; }
    field operator[](std::size_t i) const;
    iterator begin() const { return {this, 0}; }
    iterator end() const { return {this, size()}; }

private:
    friend class field;
    explicit items(const field& sequence);
    const source* src_;
    yaml::node node_;
    std::shared_ptr<const std::string> path_;
};

/// A mapping: its keys checked once (scalars, valid UTF-8, each written once), its values
/// handed out as fields.
class mapping {
public:
    struct entry {
        std::string_view key; ///< in the tree
        field value;          ///< line and path are the key's
    };

    explicit mapping(const field& f);

    /// Every key must be one of `known`; an unknown one fails, with the closest known key as
    /// a suggestion when it is close (a typo, a case slip, a unit tacked on: "timeout_ms").
    void only(std::initializer_list<std::string_view> known) const;
    /// The key's value; a key written without a value is an error, not a default.
    std::optional<field> get(std::string_view key) const;
    field require(std::string_view key) const;
    bool has(std::string_view key) const;

    const std::vector<entry>& entries() const noexcept { return entries_; }
    int line() const noexcept { return self_.line(); }
    const std::string& path() const noexcept { return *path_; }
    const field& as_field() const noexcept { return self_; }
    /// At the mapping's own line, or at `line`, with its path.
    [[noreturn]] void fail(std::string_view problem) const;
    [[noreturn]] void fail(int line, std::string_view problem) const;

private:
    field self_;
    std::shared_ptr<const std::string> path_;
    std::vector<entry> entries_;
};

/// The one document of a YAML file.
class document {
public:
    /// Parses `text`; a syntax error or a second document fails ("YAML syntax error: ...
    /// (column N)", "more than one YAML document").
    document(const source& src, std::string_view text);
    /// Its root, or nullopt for a file without one (empty, comments, or null documents only).
    std::optional<field> root() const;

private:
    const source* src_;
    std::unique_ptr<tree> tree_;
};

} // namespace taskwatch::detail::yaml
