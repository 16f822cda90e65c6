// YAML text -> a compact read-only tree (libyaml's event parser underneath): null, scalar,
// sequence and mapping nodes with their text, line and column; aliases shared, and bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace taskwatch::detail::yaml {

/// Collections nest at most this deep; deeper text is an error, not a stack or memory hazard.
inline constexpr std::size_t max_depth = 1000;

/// Aliases share the node they name, so the tree stays as small as the text; a reader that
/// walks the document meets every alias as the whole node again. The document as expanded
/// may count at most this many times the text's size, plus expansion_floor, in nodes and bytes
/// of scalar text (without aliases a document counts at most about twice its text's size).
inline constexpr std::uint64_t expansion_factor = 8;
inline constexpr std::uint64_t expansion_floor = std::uint64_t{1} << 20;

/// Bad text: where (1-based line and column, 0 when unknown) and what, as one line:
/// "YAML syntax error: did not find expected key", "YAML nesting deeper than 1000 levels".
class parse_error : public std::runtime_error {
public:
    parse_error(int at_line, int at_column, const std::string& problem)
        : std::runtime_error(problem)
        , line(at_line)
        , column(at_column) {}
    int line;
    int column;
};

enum class kind : std::uint8_t { null, scalar, sequence, mapping };

class tree;

/// A node of a tree: a handle, cheap to copy, valid while its tree lives.
class node {
public:
    kind type() const noexcept;
    bool is_null() const noexcept { return type() == kind::null; }
    bool is_scalar() const noexcept { return type() == kind::scalar; }
    bool is_sequence() const noexcept { return type() == kind::sequence; }
    bool is_mapping() const noexcept { return type() == kind::mapping; }

    /// A scalar's text, which lives as long as the tree; empty for the other kinds.
    std::string_view text() const noexcept;
    int line() const noexcept;   ///< 1-based
    int column() const noexcept; ///< 1-based, in characters

    /// Items of a sequence, entries (key-value pairs) of a mapping; 0 for the other kinds.
    std::size_t size() const noexcept;
    node item(std::size_t i) const noexcept;  ///< of a sequence, i < size()
    node key(std::size_t i) const noexcept;   ///< of a mapping, i < size()
    node value(std::size_t i) const noexcept; ///< of a mapping, i < size()

private:
    friend class tree;
    node(const tree* t, std::uint32_t i) noexcept
        : tree_(t)
        , index_(i) {}
    const tree* tree_;
    std::uint32_t index_;
};

/// The documents of a YAML stream, parsed once at construction.
///
/// As yaml-cpp read them: a plain (unquoted, untagged) scalar that is empty, `~`, `null`,
/// `Null` or `NULL` is null, every other scalar is text (what it means is the reader's call);
/// tags are ignored; an alias is the node its anchor names, and naming a node from inside
/// itself is an error. Bytes that are not UTF-8 and control characters, which libyaml refuses,
/// reach scalars as they are written (the reader checks text where it matters).
class tree {
public:
    /// Throws parse_error on text that is not YAML or breaks the limits above.
    explicit tree(std::string_view text);
    tree(const tree&) = delete;
    tree& operator=(const tree&) = delete;

    /// The documents whose root is not null (empty documents are left out), in order.
    std::size_t documents() const noexcept { return roots_.size(); }
    node document(std::size_t i) const noexcept { return node(this, roots_[i]); }

private:
    friend class node;
    class builder;
    struct stored {
        std::uint32_t first; ///< scalar: offset in text_; collection: offset in children_
        std::uint32_t size;  ///< scalar: bytes; sequence: items; mapping: entries
        std::uint32_t line;
        std::uint32_t column : 30;
        std::uint32_t type : 2;
    };
    std::vector<stored> nodes_;
    std::vector<std::uint32_t> children_; ///< a mapping's are key, value, key, value...
    std::string text_;
    std::vector<std::uint32_t> roots_;
};

inline kind node::type() const noexcept {
    return static_cast<kind>(tree_->nodes_[index_].type);
}

inline std::string_view node::text() const noexcept {
    const auto& n = tree_->nodes_[index_];
    if (n.type != static_cast<std::uint32_t>(kind::scalar)) return {};
    return std::string_view(tree_->text_).substr(n.first, n.size);
}

inline int node::line() const noexcept {
    return static_cast<int>(tree_->nodes_[index_].line);
}

inline int node::column() const noexcept {
    return static_cast<int>(tree_->nodes_[index_].column);
}

inline std::size_t node::size() const noexcept {
    const auto& n = tree_->nodes_[index_];
    return n.type >= static_cast<std::uint32_t>(kind::sequence) ? n.size : 0;
}

inline node node::item(std::size_t i) const noexcept {
    return node(tree_, tree_->children_[tree_->nodes_[index_].first + i]);
}

inline node node::key(std::size_t i) const noexcept {
    return node(tree_, tree_->children_[tree_->nodes_[index_].first + 2 * i]);
}

inline node node::value(std::size_t i) const noexcept {
    return node(tree_, tree_->children_[tree_->nodes_[index_].first + 2 * i + 1]);
}

} // namespace taskwatch::detail::yaml
