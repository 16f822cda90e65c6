// When each scheduled task is due next: a min-heap of (due time, task) in which every task
// knows where its entry is, so moving or removing a task is O(log n) and the heap never holds
// a stale entry (nor a table from entries to tasks: 100,000 tasks cost 16 bytes each here).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace taskwatch::poll {

/// The heap_index of an item without an entry.
inline constexpr std::uint32_t not_in_heap = ~std::uint32_t{0};

/// `T` keeps the place of its entry in a public `std::uint32_t heap_index = not_in_heap`, which
/// the heap alone writes. A T must stay at its address while it has an entry, and be erased
/// before it goes.
template <class T, class TimePoint> class due_heap {
public:
    struct entry {
        TimePoint due;
        T* item;
    };

    bool empty() const noexcept { return entries_.empty(); }
    std::size_t size() const noexcept { return entries_.size(); }
    /// The entry due first (the heap must not be empty).
    const entry& top() const noexcept { return entries_.front(); }
    static bool contains(const T& item) noexcept { return item.heap_index != not_in_heap; }

    /// Makes `item` due at `due`: adds its entry, or moves the one it has.
    void set(T& item, TimePoint due) {
        if (contains(item)) {
            replace(item.heap_index, {due, &item});
            return;
        }
        entries_.push_back({due, &item});
        sift_up(entries_.size() - 1);
    }
    /// Takes out `item`'s entry, if it has one.
    void erase(T& item) {
        if (contains(item)) erase_at(item.heap_index);
    }
    /// Takes out the entry due first and returns its item (the heap must not be empty).
    T* pop() {
        T* item = entries_.front().item;
        erase_at(0);
        return item;
    }

private:
    void put(std::size_t i, entry e) {
        e.item->heap_index = static_cast<std::uint32_t>(i);
        entries_[i] = e;
    }
    void sift_up(std::size_t i) {
        const entry e = entries_[i];
        while (i > 0) {
            const std::size_t parent = (i - 1) / 2;
            if (!(e.due < entries_[parent].due)) break;
            put(i, entries_[parent]);
            i = parent;
        }
        put(i, e);
    }
    void sift_down(std::size_t i) {
        const entry e = entries_[i];
        const std::size_t n = entries_.size();
        for (;;) {
            std::size_t child = 2 * i + 1;
            if (child >= n) break;
            if (child + 1 < n && entries_[child + 1].due < entries_[child].due) ++child;
            if (!(entries_[child].due < e.due)) break;
            put(i, entries_[child]);
            i = child;
        }
        put(i, e);
    }
    /// Puts `e` at `i` in place of what is there, then where its due time belongs.
    void replace(std::size_t i, entry e) {
        const bool sooner = e.due < entries_[i].due;
        entries_[i] = e;
        sooner ? sift_up(i) : sift_down(i);
    }
    void erase_at(std::size_t i) {
        entries_[i].item->heap_index = not_in_heap;
        const entry last = entries_.back();
        entries_.pop_back();
        if (i < entries_.size()) replace(i, last); // else it was the last
    }

    std::vector<entry> entries_;
};

} // namespace taskwatch::poll
