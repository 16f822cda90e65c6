// A text kept inside its 32 bytes when short (up to 30 bytes, as ModelArts ids are): for a task
// key's task id, held by every watched task, event and pending write, where a std::string puts
// any id over 15 characters on the heap (32 bytes inline and a 48-byte block).
#pragma once

#include "taskwatch/detail/text_operators.hpp"

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace taskwatch::detail {

/// Texts of up to `inline_capacity` bytes live in the object, longer ones on the heap. Reads as
/// a std::string_view (it converts implicitly); replace it whole. Copies are deep.
class inline_string : public text_operators<inline_string> {
public:
    static constexpr std::size_t inline_capacity = 30;

    inline_string() noexcept { set_inline_size(0); }
    inline_string(std::string_view s) { assign(s); }
    inline_string(const std::string& s)
        : inline_string(std::string_view(s)) {}
    inline_string(const char* s)
        : inline_string(std::string_view(s)) {}
    inline_string(const inline_string& o)
        : inline_string(o.view()) {}
    inline_string(inline_string&& o) noexcept {
        std::memcpy(bytes_, o.bytes_, sizeof bytes_);
        o.set_inline_size(0); // a heap text now belongs to this one
    }
    // Copy first, then take it over: a text that views this one's own, or an allocation that
    // fails, leaves this one whole.
    inline_string& operator=(const inline_string& o) { return *this = inline_string(o.view()); }
    inline_string& operator=(inline_string&& o) noexcept {
        if (this != &o) {
            release();
            std::memcpy(bytes_, o.bytes_, sizeof bytes_);
            o.set_inline_size(0);
        }
        return *this;
    }
    inline_string& operator=(std::string_view s) { return *this = inline_string(s); }
    inline_string& operator=(const std::string& s) { return *this = std::string_view(s); }
    inline_string& operator=(const char* s) { return *this = std::string_view(s); }
    ~inline_string() { release(); }

    std::string_view view() const noexcept {
        if (!on_heap()) return {bytes_, tag()};
        const heap_text h = heap();
        return {h.data, h.size};
    }
    operator std::string_view() const noexcept { return view(); }
    std::string str() const { return std::string(view()); }
    /// NUL-terminated, as std::string's.
    const char* c_str() const noexcept { return view().data(); }
    const char* data() const noexcept { return view().data(); }
    std::size_t size() const noexcept { return view().size(); }
    bool empty() const noexcept { return size() == 0; }
    void clear() noexcept {
        release();
        set_inline_size(0);
    }

    friend bool operator==(const inline_string& a, const inline_string& b) noexcept {
        return a.view() == b.view();
    }
    friend std::strong_ordering operator<=>(const inline_string& a,
                                            const inline_string& b) noexcept {
        return a.view() <=> b.view();
    }

private:
    struct heap_text {
        char* data;
        std::size_t size;
    };
    // bytes_[31] is the inline size (0..30), or heap_tag: bytes_ then hold a heap_text. An
    // inline text is followed by a NUL (bytes_[size], at most bytes_[30]).
    static constexpr unsigned char heap_tag = 0xff;

    std::size_t tag() const noexcept { return static_cast<unsigned char>(bytes_[31]); }
    bool on_heap() const noexcept { return tag() == heap_tag; }
    heap_text heap() const noexcept {
        heap_text h;
        std::memcpy(&h, bytes_, sizeof h);
        return h;
    }
    void set_inline_size(std::size_t n) noexcept {
        bytes_[n] = '\0';
        bytes_[31] = static_cast<char>(n);
    }
    void assign(std::string_view s) {
        if (s.size() <= inline_capacity) {
            std::copy(s.begin(), s.end(), bytes_);
            set_inline_size(s.size());
            return;
        }
        heap_text h{new char[s.size() + 1], s.size()};
        std::memcpy(h.data, s.data(), s.size());
        h.data[s.size()] = '\0';
        std::memcpy(bytes_, &h, sizeof h);
        bytes_[31] = static_cast<char>(heap_tag);
    }
    void release() noexcept {
        if (on_heap()) delete[] heap().data;
    }

    char bytes_[32] = {};
};

static_assert(sizeof(inline_string) == 32);

} // namespace taskwatch::detail

template <>
struct std::hash<taskwatch::detail::inline_string>
    : taskwatch::detail::text_hash<taskwatch::detail::inline_string> {};
