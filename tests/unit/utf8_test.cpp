// detail::first_invalid_utf8: RFC 3629, strictly.
#include "taskwatch/detail/utf8.hpp"

#include <doctest/doctest.h>

using taskwatch::detail::first_invalid_utf8;

TEST_CASE("valid UTF-8 passes, from ASCII to the last code point") {
    CHECK_FALSE(first_invalid_utf8(""));
    CHECK_FALSE(first_invalid_utf8("vision team\n\t"));
    CHECK_FALSE(first_invalid_utf8("\xc2\x80 \xdf\xbf")); // U+0080, U+07FF
    CHECK_FALSE(
        first_invalid_utf8("\xe0\xa0\x80 \xed\x9f\xbf \xef\xbf\xbf"));    // U+0800, U+D7FF, U+FFFF
    CHECK_FALSE(first_invalid_utf8("\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf")); // U+10000, U+10FFFF
    CHECK_FALSE(first_invalid_utf8(std::string_view("a\0b", 3)));
}

TEST_CASE("invalid UTF-8 is found at its first byte") {
    CHECK(first_invalid_utf8("ab\xff") == 2u);
    CHECK(first_invalid_utf8("\x80") == 0u);             // lone continuation
    CHECK(first_invalid_utf8("x\xc3") == 1u);            // truncated
    CHECK(first_invalid_utf8("x\xc3(") == 1u);           // missing continuation
    CHECK(first_invalid_utf8("\xc0\xaf") == 0u);         // overlong "/"
    CHECK(first_invalid_utf8("\xe0\x80\xaf") == 0u);     // overlong "/"
    CHECK(first_invalid_utf8("\xf0\x80\x80\xaf") == 0u); // overlong "/"
    CHECK(first_invalid_utf8("ok \xed\xa0\x80") == 3u);  // U+D800
    CHECK(first_invalid_utf8("\xf4\x90\x80\x80") == 0u); // U+110000
    CHECK(first_invalid_utf8("\xf5\x80\x80\x80") == 0u);
    CHECK(first_invalid_utf8("\xe6\x97\xa5\xe6\x97") == 3u); // second character cut
}
