#include "taskwatch/detail/interned_string.hpp"

#include <mutex>
#include <unordered_set>

namespace taskwatch::detail {

namespace {

struct entry_hash {
    using is_transparent = void;
    std::size_t operator()(const interned_entry* e) const noexcept { return (*this)(e->text); }
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

struct entry_equal {
    using is_transparent = void;
    template <class A, class B> bool operator()(const A& a, const B& b) const noexcept {
        return text_of(a) == text_of(b);
    }

private:
    static std::string_view text_of(const interned_entry* e) noexcept { return e->text; }
    static std::string_view text_of(std::string_view s) noexcept { return s; }
};

// Every live entry once. An entry's count goes from 1 to 0, and up from what the pool holds,
// only under the mutex, so an entry found in the pool is never being freed.
struct pool {
    std::mutex mutex;
    std::unordered_set<interned_entry*, entry_hash, entry_equal> entries;
};

pool& the_pool() {
    static auto* p = new pool; // never destroyed: a static task key may outlive it
    return *p;
}

} // namespace

interned_string::interned_string(std::string_view s) {
    if (s.empty()) return;
    auto& p = the_pool();
    std::lock_guard lock(p.mutex);
    if (auto it = p.entries.find(s); it != p.entries.end()) {
        e_ = *it;
        e_->refs.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    e_ = new interned_entry{{1}, std::string(s)};
    try {
        p.entries.insert(e_);
    } catch (...) {
        delete e_;
        throw;
    }
}

void interned_string::release() noexcept {
    if (!e_) return;
    auto n = e_->refs.load(std::memory_order_relaxed);
    while (n > 1)
        if (e_->refs.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel,
                                           std::memory_order_relaxed))
            return;
    auto& p = the_pool();
    std::lock_guard lock(p.mutex);
    if (e_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        p.entries.erase(e_);
        delete e_;
    }
}

const std::string& interned_string::empty_text() noexcept {
    static const std::string empty;
    return empty;
}

std::size_t interned_string::pool_size() {
    auto& p = the_pool();
    std::lock_guard lock(p.mutex);
    return p.entries.size();
}

} // namespace taskwatch::detail
