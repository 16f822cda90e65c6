// detail::interned_string, the shared text of a task key's project and dataset: equal texts are
// one pooled entry, alive while one holder is, read as a std::string or a string_view, ordered
// as text, and safe to make and drop from several threads at once.
#include "taskwatch/detail/interned_string.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using taskwatch::detail::interned_string;

TEST_CASE("equal texts share one entry, which goes when its last holder does") {
    static_assert(sizeof(interned_string) == sizeof(void*));
    const auto before = interned_string::pool_size();
    {
        interned_string a("dataset-WxCREuCkBSAlQr9xrde");
        interned_string b(std::string("dataset-WxCREuCkBSAlQr9xrde"));
        CHECK(interned_string::pool_size() == before + 1);
        CHECK(&a.str() == &b.str()); // one text, not two copies
        CHECK(a == b);
        interned_string c = a;
        interned_string d = std::move(b);
        CHECK(b.empty()); // NOLINT(bugprone-use-after-move): a moved-from one is empty
        a = "another-dataset-k2Lq0PmmS8sd0aZx1ce";
        CHECK(interned_string::pool_size() == before + 2);
        CHECK(c == d);
        CHECK(c != a);
    }
    CHECK(interned_string::pool_size() == before);
}

TEST_CASE("an empty interned string holds nothing and reads as an empty text") {
    const auto before = interned_string::pool_size();
    interned_string s, t("");
    CHECK(s.empty());
    CHECK(t.empty());
    CHECK(s == t);
    CHECK(s.str().empty());
    REQUIRE(s.c_str() != nullptr);
    CHECK(*s.c_str() == '\0');
    CHECK(interned_string::pool_size() == before);
    s = "x";
    s.clear();
    CHECK(s.empty());
    CHECK(interned_string::pool_size() == before);
}

TEST_CASE("interned strings read, compare, order and join as their texts") {
    const interned_string a("0123456789abcdef"), b("fedcba9876543210");
    const std::string& as_string = a;
    const std::string_view as_view = b;
    CHECK(as_string == "0123456789abcdef");
    CHECK(as_view == "fedcba9876543210");
    CHECK(a == std::string("0123456789abcdef"));
    CHECK(a == std::string_view("0123456789abcdef"));
    CHECK(a == "0123456789abcdef");
    CHECK(a < b);
    CHECK((a <=> a) == std::strong_ordering::equal);
    CHECK((b <=> std::string_view("a")) == std::strong_ordering::greater);
    CHECK(a + "/" == "0123456789abcdef/");
    CHECK(std::string("p/") + a == "p/0123456789abcdef");
    std::ostringstream os;
    os << a;
    CHECK(os.str() == "0123456789abcdef");
    std::map<interned_string, int> by_text{{b, 2}, {a, 1}};
    CHECK(by_text.begin()->first == a);
}

TEST_CASE("interning and dropping the same texts from several threads keeps one entry each") {
    const auto before = interned_string::pool_size();
    std::atomic<int> wrong{0};
    auto churn = [&wrong] {
        for (int i = 0; i < 20000; ++i) {
            const std::string text = "shared-" + std::to_string(i % 7);
            interned_string s(text);
            interned_string t = s;
            if (t.str() != text) ++wrong;
        }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back(churn);
    interned_string held("shared-3"); // kept alive across the churn
    for (auto& t : threads)
        t.join();
    CHECK(wrong == 0);
    CHECK(interned_string::pool_size() == before + 1);
    CHECK(held == "shared-3");
}
