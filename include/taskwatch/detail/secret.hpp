// A secret value (SK, password, token, webhook key) that cannot be printed by accident.
#pragma once

#include <string>
#include <string_view>

namespace taskwatch::detail {

/// Holds a secret. It has no stream operator and no implicit conversion: code that
/// needs the bytes calls reveal(), which is easy to grep for. Wiped on destruction.
class secret {
public:
    secret() = default;
    explicit secret(std::string value)
        : value_(std::move(value)) {}
    secret(const secret&) = default;
    secret(secret&&) noexcept = default;
    secret& operator=(const secret&) = default;
    secret& operator=(secret&&) noexcept = default;
    ~secret() { wipe(); }

    std::string_view reveal() const noexcept { return value_; }
    bool empty() const noexcept { return value_.empty(); }
    bool operator==(const secret& o) const noexcept { return value_ == o.value_; }

private:
    void wipe() noexcept {
        volatile char* p = value_.data();
        for (std::size_t i = 0; i < value_.size(); ++i)
            p[i] = 0;
    }
    std::string value_;
};

} // namespace taskwatch::detail
