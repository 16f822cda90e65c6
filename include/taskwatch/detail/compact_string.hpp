// An immutable text that costs one pointer: for the texts of structs kept by the ten thousand
// (a watched task's last observation), most of them short or empty, where a std::string is
// 32 bytes inline whatever it holds.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace taskwatch::detail {

/// A text on the heap as [32-bit size][bytes], or nothing when empty. Read it as a
/// std::string_view (it converts implicitly); replace or clear it whole. Copies are deep.
class compact_string {
public:
    compact_string() noexcept = default;
    compact_string(std::string_view s) { assign(s); }
    compact_string(const std::string& s)
        : compact_string(std::string_view(s)) {}
    compact_string(const char* s)
        : compact_string(std::string_view(s)) {}
    compact_string(const compact_string& o)
        : compact_string(o.view()) {}
    compact_string(compact_string&&) noexcept = default;
    compact_string& operator=(const compact_string& o) {
        if (this != &o) assign(o.view());
        return *this;
    }
    compact_string& operator=(compact_string&&) noexcept = default;
    ~compact_string() = default;

    std::string_view view() const noexcept {
        if (!p_) return {"", 0}; // data() is never null, as std::string's (SQLite: "" not NULL)
        std::uint32_t n = 0;
        std::memcpy(&n, p_.get(), sizeof n);
        return {p_.get() + sizeof n, n};
    }
    operator std::string_view() const noexcept { return view(); }
    std::string str() const { return std::string(view()); }
    bool empty() const noexcept { return !p_; }
    void clear() noexcept { p_.reset(); }
    std::size_t size() const noexcept { return view().size(); }
    const char* data() const noexcept { return view().data(); }

    bool operator==(const compact_string& o) const noexcept { return view() == o.view(); }
    auto operator<=>(const compact_string& o) const noexcept { return view() <=> o.view(); }
    bool operator==(std::string_view s) const noexcept { return view() == s; }
    bool operator==(const std::string& s) const noexcept { return view() == s; }
    bool operator==(const char* s) const noexcept { return view() == s; }

private:
    void assign(std::string_view s) {
        if (s.empty()) {
            p_.reset();
            return;
        }
        const auto n = static_cast<std::uint32_t>(s.size()); // a task's texts are far below 4 GiB
        auto p = std::make_unique_for_overwrite<char[]>(sizeof n + s.size());
        std::memcpy(p.get(), &n, sizeof n);
        std::memcpy(p.get() + sizeof n, s.data(), s.size());
        p_ = std::move(p);
    }
    std::unique_ptr<char[]> p_;
};

} // namespace taskwatch::detail
