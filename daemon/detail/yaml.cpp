#include "taskwatch/detail/yaml.hpp"

#include "taskwatch/detail/bytes.hpp"
#include "taskwatch/detail/message_text.hpp"
#include "taskwatch/detail/utf8.hpp"

#include <yaml.h>

#include <limits>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

namespace taskwatch::detail::yaml {

namespace {

constexpr std::uint32_t max_index = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t max_column = (std::uint32_t{1} << 30) - 1;

// libyaml refuses text that is not UTF-8 and control characters; yaml-cpp passed such bytes
// on into scalars, where the readers name the key that holds them. So each byte libyaml would
// refuse goes in as one of the private-use code points U+10FF00..U+10FFFF (one character, so
// lines and columns stay right), and scalars turn them back into the byte. Those code points
// written in the text are escaped too, so whatever comes back was a byte; only a "\U0010FFxx"
// escape in a double-quoted scalar of text that needed escaping reads as the byte xx.
bool refused(std::uint32_t cp) {
    if (cp < 0x80) return (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7f;
    return (cp <= 0x9f && cp != 0x85) || cp == 0xfffe || cp == 0xffff || cp >= 0x10ff00;
}

std::uint32_t code_point(std::span<const unsigned char> b, std::size_t len) {
    switch (len) {
    case 2:
        return (b[0] & 0x1fu) << 6 | (b[1] & 0x3fu);
    case 3:
        return (b[0] & 0x0fu) << 12 | (b[1] & 0x3fu) << 6 | (b[2] & 0x3fu);
    case 4:
        return (b[0] & 0x07u) << 18 | (b[1] & 0x3fu) << 12 | (b[2] & 0x3fu) << 6 | (b[3] & 0x3fu);
    default:
        return b[0];
    }
}

void append_placeholder(std::string& out, unsigned char byte) {
    out += '\xf4';
    out += '\x8f';
    out += static_cast<char>(0xbc | (byte >> 6));
    out += static_cast<char>(0x80 | (byte & 0x3f));
}

// `text` with the bytes libyaml refuses replaced, or nullopt when there are none.
std::optional<std::string> escape_refused(std::string_view text) {
    const auto b = bytes_of(text);
    std::optional<std::string> out;
    std::size_t copied = 0; // text before this is in *out
    std::size_t i = 0;
    while (i < b.size()) {
        std::size_t len = 1;
        bool bad = false;
        if (b[i] >= 0x20 && b[i] < 0x7f) {
            // printable ASCII: the common case
        } else if (b[i] < 0x80) {
            bad = refused(b[i]);
        } else {
            len = utf8_sequence_at(text, i);
            bad = len == 0 || refused(code_point(b.subspan(i, len), len));
            if (len == 0) len = 1;
        }
        if (bad) {
            if (!out) {
                out.emplace();
                out->reserve(text.size() + text.size() / 8 + 16);
            }
            out->append(text.substr(copied, i - copied));
            for (std::size_t k = i; k < i + len; ++k)
                append_placeholder(*out, b[k]);
            copied = i + len;
        }
        i += len;
    }
    if (out) out->append(text.substr(copied));
    return out;
}

// Appends `v` to `out` with the placeholders of escape_refused turned back into their bytes.
void append_unescaped(std::string& out, std::string_view v) {
    const auto b = bytes_of(v);
    std::size_t i = 0;
    while (i < b.size()) {
        if (b[i] == 0xf4 && i + 3 < b.size() && b[i + 1] == 0x8f && b[i + 2] >= 0xbc &&
            b[i + 2] <= 0xbf && b[i + 3] >= 0x80 && b[i + 3] <= 0xbf) {
            out += static_cast<char>((b[i + 2] - 0xbc) << 6 | (b[i + 3] & 0x3f));
            i += 4;
        } else {
            out += static_cast<char>(b[i]);
            ++i;
        }
    }
}

std::uint32_t line_of(const yaml_mark_t& m) {
    return m.line < max_index - 1 ? static_cast<std::uint32_t>(m.line + 1) : max_index;
}

std::uint32_t column_of(const yaml_mark_t& m) {
    return m.column < max_column - 1 ? static_cast<std::uint32_t>(m.column + 1) : max_column;
}

[[noreturn]] void fail_at(const yaml_mark_t& m, const std::string& problem) {
    throw parse_error(static_cast<int>(line_of(m)), static_cast<int>(column_of(m)), problem);
}

// libyaml's error as a parse_error. A reader error has an offset instead of a mark (with the
// refused bytes escaped, only an input too long for libyaml gets one).
[[noreturn]] void fail_parsing(const yaml_parser_t& p, std::string_view input) {
    if (p.error == YAML_MEMORY_ERROR) throw std::bad_alloc();
    std::string problem = "YAML syntax error: ";
    problem += p.problem != nullptr ? p.problem : "unknown problem";
    if (p.error != YAML_READER_ERROR) fail_at(p.problem_mark, problem);
    yaml_mark_t m{};
    for (unsigned char c : bytes_of(input.substr(0, p.problem_offset))) {
        if (c == '\n') {
            ++m.line;
            m.column = 0;
        } else if ((c & 0xc0) != 0x80) {
            ++m.column;
        }
    }
    fail_at(m, problem);
}

bool is_null_text(std::string_view v) {
    return v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL";
}

struct parser_handle {
    yaml_parser_t p;
    parser_handle() {
        if (yaml_parser_initialize(&p) == 0) throw std::bad_alloc();
    }
    ~parser_handle() { yaml_parser_delete(&p); }
    parser_handle(const parser_handle&) = delete;
    parser_handle& operator=(const parser_handle&) = delete;
};

struct event_handle {
    yaml_event_t e{};
    event_handle() = default;
    ~event_handle() { yaml_event_delete(&e); }
    event_handle(const event_handle&) = delete;
    event_handle& operator=(const event_handle&) = delete;
};

std::string_view view(const yaml_char_t* s, std::size_t n) {
    return {reinterpret_cast<const char*>(s), n};
}

std::string_view view(const yaml_char_t* s) {
    return s != nullptr ? std::string_view(reinterpret_cast<const char*>(s)) : std::string_view();
}

} // namespace

// Turns libyaml's events into the tree: the children of every open collection wait on one
// stack and move into children_ in one piece when the collection ends.
class tree::builder {
public:
    builder(tree& t, bool escaped, std::uint64_t expansion_limit)
        : t_(t)
        , escaped_(escaped)
        , limit_(expansion_limit) {}

    void on(const yaml_event_t& e) {
        switch (e.type) {
        case YAML_DOCUMENT_START_EVENT:
            anchors_.clear(); // anchors name nodes of their own document only
            break;
        case YAML_SCALAR_EVENT:
            scalar(e);
            break;
        case YAML_SEQUENCE_START_EVENT:
            open(e, kind::sequence, view(e.data.sequence_start.anchor));
            break;
        case YAML_MAPPING_START_EVENT:
            open(e, kind::mapping, view(e.data.mapping_start.anchor));
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            close();
            break;
        case YAML_ALIAS_EVENT:
            alias(e);
            break;
        default:
            break;
        }
    }

private:
    struct open_collection {
        std::uint32_t index;
        std::size_t first_child;   ///< in pending_
        std::uint64_t weight_from; ///< expanded_ before it
        std::string anchor;
    };
    struct anchored {
        std::uint32_t index;
        std::uint64_t weight; ///< nodes and bytes of text, expanded
        bool complete;
    };

    std::uint32_t add(const yaml_mark_t& m, kind k, std::uint32_t first, std::uint32_t size) {
        if (t_.nodes_.size() >= max_index) fail_at(m, "YAML document too large");
        stored n{first, size, line_of(m), 0, 0};
        n.column = column_of(m) & max_column;
        n.type = static_cast<std::uint32_t>(k) & 3u;
        t_.nodes_.push_back(n);
        return static_cast<std::uint32_t>(t_.nodes_.size() - 1);
    }

    // A finished node goes to its collection, or is a document.
    void attach(std::uint32_t index) {
        if (!open_.empty())
            pending_.push_back(index);
        else if (t_.nodes_[index].type != static_cast<std::uint32_t>(kind::null))
            t_.roots_.push_back(index);
    }

    void scalar(const yaml_event_t& e) {
        const auto& s = e.data.scalar;
        const auto value = view(s.value, s.length);
        std::uint32_t index = 0;
        std::uint64_t weight = 1;
        if (s.style == YAML_PLAIN_SCALAR_STYLE && s.tag == nullptr && is_null_text(value)) {
            index = add(e.start_mark, kind::null, 0, 0);
        } else {
            const std::size_t first = t_.text_.size();
            if (escaped_)
                append_unescaped(t_.text_, value);
            else
                t_.text_.append(value);
            const std::size_t size = t_.text_.size() - first;
            if (t_.text_.size() >= max_index) fail_at(e.start_mark, "YAML document too large");
            index = add(e.start_mark, kind::scalar, static_cast<std::uint32_t>(first),
                        static_cast<std::uint32_t>(size));
            weight += size;
        }
        expanded_ += weight;
        if (auto a = view(s.anchor); !a.empty()) anchors_[std::string(a)] = {index, weight, true};
        attach(index);
    }

    void open(const yaml_event_t& e, kind k, std::string_view anchor) {
        if (open_.size() >= max_depth)
            fail_at(e.start_mark,
                    "YAML nesting deeper than " + std::to_string(max_depth) + " levels");
        const auto index = add(e.start_mark, k, 0, 0);
        open_.push_back({index, pending_.size(), expanded_, std::string(anchor)});
        ++expanded_;
        if (!anchor.empty()) anchors_[std::string(anchor)] = {index, 0, false};
    }

    void close() {
        auto c = std::move(open_.back());
        open_.pop_back();
        const std::size_t count = pending_.size() - c.first_child;
        if (t_.children_.size() + count >= max_index)
            throw parse_error(0, 0, "YAML document too large");
        auto& n = t_.nodes_[c.index];
        n.first = static_cast<std::uint32_t>(t_.children_.size());
        n.size = static_cast<std::uint32_t>(
            n.type == static_cast<std::uint32_t>(kind::mapping) ? count / 2 : count);
        t_.children_.insert(t_.children_.end(),
                            pending_.begin() + static_cast<std::ptrdiff_t>(c.first_child),
                            pending_.end());
        pending_.resize(c.first_child);
        if (!c.anchor.empty()) {
            // Unless a node inside took the name over since.
            auto it = anchors_.find(c.anchor);
            if (it != anchors_.end() && it->second.index == c.index)
                it->second = {c.index, expanded_ - c.weight_from, true};
        }
        attach(c.index);
    }

    void alias(const yaml_event_t& e) {
        const auto name = view(e.data.alias.anchor);
        auto it = anchors_.find(std::string(name));
        if (it == anchors_.end())
            fail_at(e.start_mark, "YAML syntax error: alias " + quote("*" + std::string(name)) +
                                      " names no anchor before it");
        if (!it->second.complete)
            fail_at(e.start_mark, "YAML syntax error: alias " + quote("*" + std::string(name)) +
                                      " is inside the node it names");
        expanded_ += it->second.weight;
        if (expanded_ > limit_)
            fail_at(e.start_mark, "YAML aliases expand the document beyond " +
                                      std::to_string(limit_) + " nodes and bytes of text (" +
                                      std::to_string(expansion_factor) +
                                      " times the text's size plus 1 MiB)");
        attach(it->second.index);
    }

    tree& t_;
    bool escaped_;
    std::uint64_t limit_;
    std::uint64_t expanded_ = 0; ///< nodes and bytes of text so far, aliases expanded
    std::vector<open_collection> open_;
    std::vector<std::uint32_t> pending_;
    std::unordered_map<std::string, anchored> anchors_;
};

tree::tree(std::string_view text) {
    const auto escaped = escape_refused(text);
    const std::string_view input = escaped ? std::string_view(*escaped) : text;
    // Reserved, not touched: the text of the scalars is at most as long as the input, and
    // typical YAML has a node every 16 bytes or more.
    text_.reserve(text.size());
    nodes_.reserve(text.size() / 16 + 16);
    children_.reserve(text.size() / 16 + 16);

    parser_handle parser;
    yaml_parser_set_encoding(&parser.p, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&parser.p, reinterpret_cast<const unsigned char*>(input.data()),
                                 input.size());
    builder b(*this, escaped.has_value(),
              expansion_factor * std::uint64_t{text.size()} + expansion_floor);
    for (;;) {
        event_handle ev;
        if (yaml_parser_parse(&parser.p, &ev.e) == 0) fail_parsing(parser.p, input);
        b.on(ev.e);
        if (ev.e.type == YAML_STREAM_END_EVENT) break;
    }
}

} // namespace taskwatch::detail::yaml
