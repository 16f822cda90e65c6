// An immutable text shared by every equal one alive: for the ids repeated across records kept by
// the ten thousand (a task key's project and dataset, the same for every task of a dataset),
// where each copy as a std::string costs 32 bytes inline and a heap block of up to 48 more.
#pragma once

#include "taskwatch/detail/text_operators.hpp"

#include <atomic>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace taskwatch::detail {

/// A pooled text and the number of interned_string holding it.
struct interned_entry {
    std::atomic<std::uint32_t> refs;
    std::string text;
};

/// One pointer to a pooled, reference-counted std::string; equal texts share one. Reads as a
/// `const std::string&` or a std::string_view (it converts implicitly to both); replace it
/// whole. Copying costs an atomic increment, making one from a text a hash lookup under a
/// mutex; safe to use from several threads as a std::string is.
class interned_string : public text_operators<interned_string> {
public:
    interned_string() noexcept = default;
    interned_string(std::string_view s);
    interned_string(const std::string& s)
        : interned_string(std::string_view(s)) {}
    interned_string(const char* s)
        : interned_string(std::string_view(s)) {}
    interned_string(const interned_string& o) noexcept
        : e_(o.e_) {
        if (e_) e_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    interned_string(interned_string&& o) noexcept
        : e_(o.e_) {
        o.e_ = nullptr;
    }
    interned_string& operator=(const interned_string& o) noexcept {
        interned_string(o).swap(*this);
        return *this;
    }
    interned_string& operator=(interned_string&& o) noexcept {
        interned_string(std::move(o)).swap(*this);
        return *this;
    }
    interned_string& operator=(std::string_view s) {
        interned_string(s).swap(*this);
        return *this;
    }
    interned_string& operator=(const std::string& s) { return *this = std::string_view(s); }
    interned_string& operator=(const char* s) { return *this = std::string_view(s); }
    ~interned_string() { release(); }

    void swap(interned_string& o) noexcept { std::swap(e_, o.e_); }

    const std::string& str() const noexcept { return e_ ? e_->text : empty_text(); }
    operator const std::string&() const noexcept { return str(); }
    operator std::string_view() const noexcept { return str(); }
    std::string_view view() const noexcept { return str(); }
    const char* c_str() const noexcept { return str().c_str(); }
    const char* data() const noexcept { return str().data(); }
    std::size_t size() const noexcept { return str().size(); }
    bool empty() const noexcept { return !e_; }
    void clear() noexcept {
        release();
        e_ = nullptr;
    }

    /// Equal texts are one entry: comparing for equality compares pointers.
    friend bool operator==(const interned_string& a, const interned_string& b) noexcept {
        return a.e_ == b.e_;
    }
    friend std::strong_ordering operator<=>(const interned_string& a,
                                            const interned_string& b) noexcept {
        if (a.e_ == b.e_) return std::strong_ordering::equal;
        return a.view() <=> b.view();
    }

    /// Distinct texts alive (for tests).
    static std::size_t pool_size();

private:
    static const std::string& empty_text() noexcept;
    void release() noexcept;

    interned_entry* e_ = nullptr; ///< null: the empty text
};

} // namespace taskwatch::detail

template <>
struct std::hash<taskwatch::detail::interned_string>
    : taskwatch::detail::text_hash<taskwatch::detail::interned_string> {};
