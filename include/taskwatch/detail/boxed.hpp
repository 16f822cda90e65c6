// An optional value kept on the heap: for a large member that is empty most of the time, so
// that every object pays one pointer for it instead of the value's size.
#pragma once

#include <memory>
#include <optional>
#include <utility>

namespace taskwatch::detail {

/// std::optional's face (test, *, ->, = value, = nullopt, reset, ==) over a heap-held value.
/// Copies are deep; a moved-from box is empty.
template <class T> class boxed {
public:
    boxed() noexcept = default;
    boxed(std::nullopt_t) noexcept {}
    boxed(T value)
        : value_(std::make_unique<T>(std::move(value))) {}
    boxed(const boxed& o)
        : value_(o.value_ ? std::make_unique<T>(*o.value_) : nullptr) {}
    boxed(boxed&&) noexcept = default;
    boxed& operator=(const boxed& o) {
        if (!o.value_)
            value_.reset();
        else if (value_)
            *value_ = *o.value_;
        else
            value_ = std::make_unique<T>(*o.value_);
        return *this;
    }
    boxed& operator=(boxed&&) noexcept = default;
    boxed& operator=(std::nullopt_t) noexcept {
        value_.reset();
        return *this;
    }
    boxed& operator=(T value) {
        if (value_)
            *value_ = std::move(value);
        else
            value_ = std::make_unique<T>(std::move(value));
        return *this;
    }
    ~boxed() = default;

    bool has_value() const noexcept { return value_ != nullptr; }
    explicit operator bool() const noexcept { return has_value(); }
    T& operator*() noexcept { return *value_; }
    const T& operator*() const noexcept { return *value_; }
    T* operator->() noexcept { return value_.get(); }
    const T* operator->() const noexcept { return value_.get(); }
    void reset() noexcept { value_.reset(); }

    bool operator==(const boxed& o) const {
        return value_ && o.value_ ? *value_ == *o.value_ : value_ == o.value_;
    }

private:
    std::unique_ptr<T> value_;
};

} // namespace taskwatch::detail
